/**
 * Character classes shared by the parser, the lexer and .dockerignore, spelled like Go's
 * `unicode.IsSpace` so whitespace handling matches BuildKit byte for byte.
 */
const GO_SPACE = '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

const GO_SPACE_CHAR = new RegExp(`^[${GO_SPACE}]$`);
const LEADING_GO_SPACE = new RegExp(`^[${GO_SPACE}]+`);
const TRAILING_GO_SPACE = new RegExp(`[${GO_SPACE}]+$`);

export function isGoSpace(ch: string): boolean {
  return GO_SPACE_CHAR.test(ch);
}

export function trimLeftSpace(text: string): string {
  return text.replace(LEADING_GO_SPACE, '');
}

export function trimSpace(text: string): string {
  return text.replace(LEADING_GO_SPACE, '').replace(TRAILING_GO_SPACE, '');
}

/** BuildKit splits instruction arguments on this class only (`reWhitespace`). */
export const ARGUMENT_WHITESPACE = /[\t\v\f\r ]+/;

/** Splits on the first run of argument whitespace: `splitN(text, 2)`. */
export function splitFirstWhitespace(text: string): [string, string | undefined] {
  const match = ARGUMENT_WHITESPACE.exec(text);
  if (!match) return [text, undefined];
  return [text.slice(0, match.index), text.slice(match.index + match[0].length)];
}

/** Whitespace-delimited fields after trimming, as `parseStringsWhitespaceDelimited`. */
export function whitespaceFields(text: string): string[] {
  const trimmed = text.replace(/^[\t\v\f\r ]+/, '').replace(/[\t\v\f\r ]+$/, '');
  return trimmed === '' ? [] : trimmed.split(ARGUMENT_WHITESPACE);
}
