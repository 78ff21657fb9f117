import { expandDetailed } from './expand';
import { ExpansionError } from './errors';
import type { Heredoc } from './types';

const HEREDOC_WORD = /^(\d*)<<(-?)\s*([^<]*)$/;
const NO_ENV = (): undefined => undefined;

export type HeredocHeader = Omit<Heredoc, 'content'>;

/** Recognises `<<EOF`, `<<-EOF`, `3<<"EOF"` words; returns undefined for anything else. */
export function parseHeredocWord(word: string): HeredocHeader | undefined {
  const match = HEREDOC_WORD.exec(word);
  if (!match) return undefined;
  const [, fd, dash, rest] = match;
  if (rest === '') return undefined;

  // Lex the delimiter with and without quote removal: if the counts of quote characters
  // differ, part of the delimiter was quoted, which turns expansion off (as in sh).
  const plain = expandDetailed(rest, NO_ENV, { skipUnset: true }).words;
  if (plain.length !== 1) return undefined;
  const raw = expandDetailed(rest, NO_ENV, { skipUnset: true, rawQuotes: true }).words;
  const quoteCount = (text: string): number => (text.match(/['"]/g) ?? []).length;

  return {
    name: plain[0],
    expand: quoteCount(plain[0]) === quoteCount(raw[0] ?? ''),
    chomp: dash === '-',
    fileDescriptor: fd === '' ? 0 : Number(fd),
  };
}

/** All heredoc headers on an instruction line, in order. Unlexable lines have none, as in BuildKit. */
export function heredocHeadersInLine(line: string): HeredocHeader[] {
  let words: string[];
  try {
    words = expandDetailed(line, NO_ENV, { rawQuotes: true, rawEscapes: true }).words;
  } catch (error) {
    if (error instanceof ExpansionError) return [];
    throw error;
  }
  const headers: HeredocHeader[] = [];
  for (const word of words) {
    const header = parseHeredocWord(word);
    if (header) headers.push(header);
  }
  return headers;
}

/** `<<-` strips leading tabs from every content line. */
export function chompLeadingTabs(content: string): string {
  return content.replace(/^\t+/gm, '');
}
