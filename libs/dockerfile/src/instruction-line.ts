import { splitFirstWhitespace, trimSpace } from './text';
import type { Heredoc, InstructionKind } from './types';
import { extractLeadingFlags, parseJsonStringArray } from './words';

// What the parser needs to know of a line before the instruction itself is built.

/** One logical line, split into keyword, flags and arguments, with its location. */
export interface RawInstruction {
  keyword: string;
  flags: string[];
  args: string;
  heredocs: Heredoc[];
  line: number;
  endLine: number;
  column: number;
  original: string;
  /** The first physical line, used to point at a bad flag. */
  firstPhysicalLine: string;
}

export const INSTRUCTION_KINDS: readonly InstructionKind[] = [
  'FROM', 'RUN', 'CMD', 'ENTRYPOINT', 'SHELL', 'COPY', 'ADD', 'ENV', 'LABEL', 'ARG',
  'WORKDIR', 'EXPOSE', 'USER', 'VOLUME', 'STOPSIGNAL', 'HEALTHCHECK', 'ONBUILD', 'MAINTAINER',
];

const KIND_SET = new Set<string>(INSTRUCTION_KINDS);

export function instructionKindOf(keyword: string): InstructionKind | undefined {
  const upper = keyword.toUpperCase();
  return KIND_SET.has(upper) ? (upper as InstructionKind) : undefined;
}

/** Splits `KEYWORD --flags args` as BuildKit's `splitCommand`. */
export function splitInstructionLine(line: string): { keyword: string; flags: string[]; args: string } {
  const [keyword, rest] = splitFirstWhitespace(trimSpace(line));
  if (rest === undefined) return { keyword, flags: [], args: '' };
  const { flags, restOffset } = extractLeadingFlags(rest);
  return { keyword, flags, args: rest.slice(restOffset) };
}

/** Whether heredocs are read after this line: RUN/COPY/ADD (also under ONBUILD) in shell form. */
export function canContainHeredoc(keyword: string, args: string): boolean {
  let kind = instructionKindOf(keyword);
  let rest = args;
  if (kind === 'ONBUILD') {
    const inner = splitInstructionLine(args);
    kind = instructionKindOf(inner.keyword);
    rest = inner.args;
  }
  if (kind !== 'RUN' && kind !== 'COPY' && kind !== 'ADD') return false;
  try {
    return parseJsonStringArray(rest) === undefined;
  } catch {
    // Not a JSON array: the shell form.
    return false;
  }
}

export function unknownInstructionMessage(keyword: string): string {
  const upper = keyword.toUpperCase();
  let best: string | undefined;
  let bestDistance = 3;
  for (const kind of INSTRUCTION_KINDS) {
    const distance = editDistance(upper, kind);
    if (distance < bestDistance) {
      best = kind;
      bestDistance = distance;
    }
  }
  return `unknown instruction: ${upper}${best ? ` (did you mean ${best}?)` : ''}`;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}
