import { DockerfileError, DockerfileSemanticError, DockerfileSyntaxError } from './errors';
import type { EscapeChar } from './expand';
import { chompLeadingTabs, heredocHeadersInLine } from './heredoc';
import { buildInstruction } from './instructions';
import { canContainHeredoc, splitInstructionLine } from './instruction-line';
import { trimLeftSpace } from './text';
import type { ArgInstruction, Heredoc, Instruction, ParsedDockerfile, ParserDirectives, ParseWarning, Stage } from './types';

export interface ParsedInstructions {
  directives: ParserDirectives;
  instructions: Instruction[];
  warnings: ParseWarning[];
}

const DIRECTIVE = /^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;
const KNOWN_DIRECTIVES = new Set(['syntax', 'escape', 'check']);

/**
 * Parser directives are only recognised in the leading run of `# key=value` lines; the first
 * line that is anything else (comment, blank line, instruction, unknown directive) ends the run.
 */
class DirectiveReader {
  private done = false;
  private readonly seen = new Set<string>();
  readonly directives: ParserDirectives = { escape: '\\' };

  /** `line` has its leading whitespace removed. */
  read(line: string, lineNumber: number): void {
    if (this.done) return;
    const match = line.startsWith('#') ? DIRECTIVE.exec(trimLeftSpace(line.slice(1))) : null;
    const key = match?.[1].toLowerCase();
    if (!match || key === undefined || !KNOWN_DIRECTIVES.has(key)) {
      this.done = true;
      return;
    }
    if (this.seen.has(key)) {
      throw new DockerfileSyntaxError(`only one ${key} parser directive can be used`, lineNumber);
    }
    this.seen.add(key);
    const value = match[2];
    if (key === 'escape') {
      if (value !== '\\' && value !== '`') {
        throw new DockerfileSyntaxError(`invalid escape token '${value}' does not match \` or \\`, lineNumber);
      }
      this.directives.escape = value;
    } else if (key === 'syntax') {
      this.directives.syntax = value;
    } else {
      this.directives.check = value;
    }
  }
}

function continuationPattern(escape: EscapeChar): RegExp {
  const e = escape === '\\' ? '\\\\' : '`';
  // The escape char as the last non-blank character, unless itself escaped (`\\` at the end is literal).
  return new RegExp(`([^${e}])${e}[ \\t]*$|^${e}[ \\t]*$`);
}

/** Lines as Go's bufio.ScanLines yields them: split on \n, one trailing \r dropped, no final empty line. */
function physicalLines(text: string): string[] {
  const withoutBom = text.startsWith('\ufeff') ? text.slice(1) : text;
  if (withoutBom === '') return [];
  const lines = withoutBom.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
}

function isComment(line: string): boolean {
  return trimLeftSpace(line).startsWith('#');
}

/** Parses a Dockerfile into a flat list of typed instructions, with directives and warnings. */
export function parseInstructions(text: string): ParsedInstructions {
  const lines = physicalLines(text);
  const directiveReader = new DirectiveReader();
  const instructions: Instruction[] = [];
  const warnings: ParseWarning[] = [];

  let index = 0;
  while (index < lines.length) {
    const physical = lines[index];
    const startLine = ++index;
    const stripped = trimLeftSpace(physical);
    directiveReader.read(stripped, startLine);
    const escape = directiveReader.directives.escape;
    if (isComment(stripped)) continue;

    const pattern = continuationPattern(escape);
    let logical = stripped;
    let ended = !pattern.test(logical);
    if (!ended) logical = logical.replace(pattern, '$1');
    if (ended && logical === '') continue;

    let sawEmptyContinuation = false;
    while (!ended && index < lines.length) {
      const next = lines[index++];
      if (isComment(next)) continue;
      if (trimLeftSpace(next) === '') {
        sawEmptyContinuation = true;
        continue;
      }
      ended = !pattern.test(next);
      logical += ended ? next : next.replace(pattern, '$1');
    }
    if (sawEmptyContinuation) {
      warnings.push({
        line: startLine,
        rule: 'NoEmptyContinuation',
        message: 'Empty continuation line found; empty continuation lines will become errors in a future release',
      });
    }

    const column = physical.length - stripped.length + 1;
    const { keyword, flags, args } = splitInstructionLine(logical);

    let heredocs: HeredocWithLength[] = [];
    if (logical.includes('<<') && canContainHeredoc(keyword, args)) {
      heredocs = readHeredocs(logical, lines, index, startLine, column);
      index += heredocs.reduce((sum, doc) => sum + doc.bodyLines + 1, 0);
    }

    const original = logical.replace(/[\t\v\f\r ]+$/, '');
    instructions.push(
      buildInstruction(
        {
          keyword,
          flags,
          args,
          heredocs: heredocs.map(({ bodyLines: _bodyLines, ...doc }) => doc),
          line: startLine,
          endLine: index,
          column,
          original,
          firstPhysicalLine: physical,
        },
        escape,
        warnings,
      ),
    );
  }

  if (instructions.length === 0) {
    throw new DockerfileSyntaxError('file with no instructions', Math.max(lines.length, 1));
  }
  return { directives: directiveReader.directives, instructions, warnings };
}

type HeredocWithLength = Heredoc & { bodyLines: number };

function readHeredocs(logical: string, lines: string[], start: number, startLine: number, column: number): HeredocWithLength[] {
  let headers;
  try {
    headers = heredocHeadersInLine(logical);
  } catch (error) {
    if (error instanceof DockerfileError) throw new DockerfileSyntaxError(error.detail, startLine, column);
    throw error;
  }
  const docs: HeredocWithLength[] = [];
  let cursor = start;
  for (const header of headers) {
    let content = '';
    let terminated = false;
    const first = cursor;
    while (cursor < lines.length) {
      const body = lines[cursor++];
      const candidate = header.chomp ? body.replace(/^\t+/, '') : body;
      if (candidate === header.name) {
        terminated = true;
        break;
      }
      content += body + '\n';
    }
    if (!terminated) {
      throw new DockerfileSyntaxError(`unterminated heredoc ${JSON.stringify(header.name)}`, startLine, column);
    }
    docs.push({
      ...header,
      content: header.chomp ? chompLeadingTabs(content) : content,
      bodyLines: cursor - first - 1,
    });
  }
  return docs;
}

/** Parses a Dockerfile and groups it into global ARGs and build stages. */
export function parseDockerfile(text: string): ParsedDockerfile {
  const { directives, instructions, warnings } = parseInstructions(text);
  const globalArgs: ArgInstruction[] = [];
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.kind === 'FROM') {
      stages.push({
        index: stages.length,
        ...(instruction.stageName === undefined ? {} : { name: instruction.stageName }),
        from: instruction,
        instructions: [],
      });
      continue;
    }
    const current = stages[stages.length - 1];
    if (current) {
      current.instructions.push(instruction);
    } else if (instruction.kind === 'ARG') {
      globalArgs.push(instruction);
    } else {
      throw new DockerfileSemanticError(
        `${instruction.kind} before the first FROM: no build stage in current context (only ARG may precede FROM)`,
        instruction.line,
      );
    }
  }
  if (stages.length === 0) {
    throw new DockerfileSemanticError('dockerfile contains no stages to build (missing FROM)');
  }
  const seenNames = new Map<string, number>();
  for (const stage of stages) {
    if (stage.name === undefined) continue;
    const previous = seenNames.get(stage.name);
    if (previous !== undefined) {
      throw new DockerfileSemanticError(`duplicate stage name ${JSON.stringify(stage.name)}, first defined on line ${previous}`, stage.from.line);
    }
    seenNames.set(stage.name, stage.from.line);
  }
  return { directives, globalArgs, stages, warnings };
}
