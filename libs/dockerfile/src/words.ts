import { isGoSpace } from './text';

/**
 * Splits ENV/LABEL/ARG arguments into words on unquoted whitespace, keeping quotes and
 * escapes in the words (they are removed later, during expansion), like BuildKit's `parseWords`.
 */
export function splitWordsKeepingQuotes(text: string, escapeChar: string): string[] {
  const words: string[] = [];
  const chars = Array.from(text);
  let word = '';
  let inWord = false;
  let quote: string | null = null;
  let blankOk = false;

  for (let i = 0; i < chars.length; i++) {
    let ch = chars[i];
    if (quote === null) {
      if (!inWord) {
        if (isGoSpace(ch)) continue;
        inWord = true;
      }
      if (isGoSpace(ch)) {
        if (blankOk || word.length > 0) words.push(word);
        word = '';
        blankOk = false;
        inWord = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOk = true;
      }
      if (ch === escapeChar) {
        // An escape at the very end is dropped; otherwise keep it and the escaped character.
        if (i + 1 === chars.length) continue;
        word += ch;
        ch = chars[++i];
      }
      word += ch;
      continue;
    }
    if (ch === quote) quote = null;
    // Inside single quotes nothing can be escaped.
    if (ch === escapeChar && quote !== "'") {
      if (i + 1 === chars.length) continue;
      word += ch;
      ch = chars[++i];
    }
    word += ch;
  }
  if (inWord && (blankOk || word.length > 0)) words.push(word);
  return words;
}

export interface ExtractedFlags {
  /** `--name[=value]` words without further interpretation. */
  flags: string[];
  /** Where the remaining arguments start in the input. */
  restOffset: number;
}

/**
 * Peels leading `--flag[=value]` words off an instruction's arguments (quote-aware, `\` escapes),
 * as BuildKit's `extractBuilderFlags`. A lone `--` ends the flags.
 */
export function extractLeadingFlags(text: string): ExtractedFlags {
  const flags: string[] = [];
  let pos = 0;
  for (;;) {
    while (pos < text.length && isGoSpace(text[pos])) pos++;
    if (pos >= text.length) return { flags, restOffset: text.length };
    if (!text.startsWith('--', pos)) return { flags, restOffset: pos };

    let word = '';
    let quote: string | null = null;
    let blankOk = false;
    let i = pos;
    for (; i < text.length; i++) {
      let ch = text[i];
      if (quote === null) {
        if (isGoSpace(ch)) break;
        if (ch === "'" || ch === '"') {
          quote = ch;
          blankOk = true;
          continue;
        }
      } else if (ch === quote) {
        quote = null;
        continue;
      }
      if (ch === '\\') {
        if (i + 1 === text.length) continue;
        ch = text[++i];
      }
      word += ch;
    }
    if (word === '--') return { flags, restOffset: i };
    if (blankOk || word.length > 0) flags.push(word);
    pos = i;
  }
}

export class NotStringArrayError extends Error {}

/**
 * The exec form: a JSON array of strings. Returns undefined when the text is not a JSON array
 * (the caller then falls back to shell form, as Docker silently does), and throws
 * `NotStringArrayError` for a valid array holding something other than strings.
 */
export function parseJsonStringArray(text: string): string[] | undefined {
  const trimmed = text.replace(/^\s+/, '');
  if (!trimmed.startsWith('[')) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    // Not JSON: the shell form, as docker reads it.
    return undefined;
  }
  if (!Array.isArray(parsed)) return undefined;
  if (!parsed.every((item): item is string => typeof item === 'string')) throw new NotStringArrayError();
  return parsed;
}
