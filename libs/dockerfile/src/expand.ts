import { ExpansionError } from './errors';
import { isGoSpace } from './text';

/**
 * Variable substitution with the shell-word rules of BuildKit's `shell/lex.go`:
 * `$v`, `${v}`, `${v:-w}`, `${v-w}`, `${v:+w}`, `${v+w}`, `${v:?msg}`, `${v?msg}`,
 * `${v#pat}`, `${v##pat}`, `${v%pat}`, `${v%%pat}`, `${v/pat/repl}`, `${v//pat/repl}`;
 * single quotes are literal, double quotes allow `$`, the escape character escapes.
 * Quotes and escapes are removed from the result (unless asked to keep them).
 */

/** Where variables come from. A plain object is read through own properties only. */
export type ExpansionEnv =
  | ReadonlyMap<string, string>
  | Readonly<Record<string, string>>
  | ((name: string) => string | undefined);

export type EscapeChar = '\\' | '`';

export interface ExpandOptions {
  /** The Dockerfile escape character (`# escape=` directive). Default `\`. */
  escapeChar?: EscapeChar;
  /** Leave references to unset variables as written (`$nope` stays `$nope`). */
  skipUnset?: boolean;
  /** Keep quote characters in the result. */
  rawQuotes?: boolean;
  /** Keep escape characters in the result. */
  rawEscapes?: boolean;
  /** Treat quotes as ordinary characters (BuildKit does this for heredoc file contents). */
  skipProcessQuotes?: boolean;
}

export interface ExpansionResult {
  /** The whole word after substitution and quote removal; whitespace kept. */
  value: string;
  /** The result split into words: unquoted whitespace (also inside substituted values) separates. */
  words: string[];
  /** Names of variables that were looked up and set. */
  matched: string[];
  /** Names of variables that were looked up and not set. */
  unmatched: string[];
}

export function toLookup(env: ExpansionEnv): (name: string) => string | undefined {
  if (typeof env === 'function') return env;
  if (env instanceof Map) return (name) => env.get(name);
  const record = env as Readonly<Record<string, string>>;
  return (name) => (Object.prototype.hasOwnProperty.call(record, name) ? record[name] : undefined);
}

/** Expands one word (ENV value, WORKDIR path, COPY source...) into one string. */
export function expand(word: string, env: ExpansionEnv, options: ExpandOptions = {}): string {
  return expandDetailed(word, env, options).value;
}

/** Expands and splits into words, as for `EXPOSE $PORTS`. */
export function expandWords(word: string, env: ExpansionEnv, options: ExpandOptions = {}): string[] {
  return expandDetailed(word, env, options).words;
}

export function expandDetailed(word: string, env: ExpansionEnv, options: ExpandOptions = {}): ExpansionResult {
  const lexer = new ShellWordLexer(word, toLookup(env), options);
  return lexer.run();
}

const END = '';

/** Accumulates word boundaries the way lex.go's wordsStruct does. */
class WordCollector {
  private buffer = '';
  private inWord = false;
  readonly words: string[] = [];

  addChar(ch: string): void {
    if (isGoSpace(ch)) {
      if (this.inWord && this.buffer.length > 0) {
        this.words.push(this.buffer);
        this.buffer = '';
        this.inWord = false;
      }
      return;
    }
    this.addRawChar(ch);
  }

  addRawChar(ch: string): void {
    this.buffer += ch;
    this.inWord = true;
  }

  addString(text: string): void {
    for (const ch of text) this.addChar(ch);
  }

  addRawString(text: string): void {
    this.buffer += text;
    this.inWord = true;
  }

  finish(): string[] {
    if (this.buffer.length > 0) {
      this.words.push(this.buffer);
      this.buffer = '';
      this.inWord = false;
    }
    return this.words;
  }
}

const LETTER = /^\p{L}$/u;
const DIGIT = /^\p{Nd}$/u;
const SPECIAL_PARAMS = new Set(['@', '*', '#', '?', '-', '$', '!', '0']);

class ShellWordLexer {
  private readonly chars: string[];
  private pos = 0;
  private readonly escape: string;
  private readonly matched = new Set<string>();
  private readonly unmatched = new Set<string>();

  constructor(
    private readonly source: string,
    private readonly lookup: (name: string) => string | undefined,
    private readonly options: ExpandOptions,
  ) {
    this.chars = Array.from(source);
    this.escape = options.escapeChar ?? '\\';
  }

  run(): ExpansionResult {
    const { value, words } = this.processStopOn(null, this.options.rawEscapes ?? false);
    return { value, words, matched: [...this.matched], unmatched: [...this.unmatched] };
  }

  private fail(detail: string): never {
    throw new ExpansionError(detail, this.source);
  }

  private peek(): string {
    return this.pos < this.chars.length ? this.chars[this.pos] : END;
  }

  private next(): string {
    return this.pos < this.chars.length ? this.chars[this.pos++] : END;
  }

  private getEnv(name: string): { value: string; set: boolean } {
    const value = this.lookup(name);
    if (value === undefined) {
      this.unmatched.add(name);
      return { value: '', set: false };
    }
    this.matched.add(name);
    return { value, set: true };
  }

  /** Reads up to `stop` (consumed) or the end; `stop === null` means "to the end". */
  private processStopOn(stop: string | null, rawEscapes: boolean): { value: string; words: string[] } {
    let result = '';
    const words = new WordCollector();
    const quotesAreSpecial = !this.options.skipProcessQuotes;

    while (this.peek() !== END) {
      const ch = this.peek();
      if (stop !== null && ch === stop) {
        this.next();
        return { value: result, words: words.finish() };
      }
      if (ch === '$') {
        const text = this.processDollar();
        result += text;
        words.addString(text);
        continue;
      }
      if (quotesAreSpecial && (ch === "'" || ch === '"')) {
        const text = ch === "'" ? this.processSingleQuote() : this.processDoubleQuote();
        result += text;
        words.addRawString(text);
        continue;
      }
      let current = this.next();
      if (current === this.escape) {
        if (rawEscapes) {
          words.addRawChar(current);
          result += current;
        }
        current = this.next();
        // An escape character at the very end is dropped.
        if (current === END) break;
        words.addRawChar(current);
      } else {
        words.addChar(current);
      }
      result += current;
    }
    if (stop !== null) this.fail(`unexpected end of statement while looking for matching ${stop}`);
    return { value: result, words: words.finish() };
  }

  private processSingleQuote(): string {
    const raw = this.options.rawQuotes ?? false;
    let result = raw ? this.next() : (this.next(), '');
    for (;;) {
      const ch = this.next();
      if (ch === END) this.fail('unexpected end of statement while looking for matching single-quote');
      if (ch === "'") return raw ? result + ch : result;
      result += ch;
    }
  }

  private processDoubleQuote(): string {
    const raw = this.options.rawQuotes ?? false;
    let result = raw ? this.next() : (this.next(), '');
    for (;;) {
      const ch = this.peek();
      if (ch === END) this.fail('unexpected end of statement while looking for matching double-quote');
      if (ch === '"') {
        this.next();
        return raw ? result + ch : result;
      }
      if (ch === '$') {
        result += this.processDollar();
        continue;
      }
      let current = this.next();
      if (current === this.escape) {
        if (this.options.rawEscapes) result += current;
        const following = this.peek();
        if (following === END) continue;
        // Inside double quotes only ", $ and the escape character itself can be escaped.
        if (following === '"' || following === '$' || following === this.escape) current = this.next();
      }
      result += current;
    }
  }

  private processName(): string {
    let name = '';
    while (this.peek() !== END) {
      const ch = this.peek();
      if (name.length === 0 && DIGIT.test(ch)) {
        while (this.peek() !== END && DIGIT.test(this.peek())) name += this.next();
        return name;
      }
      if (name.length === 0 && SPECIAL_PARAMS.has(ch)) return this.next();
      if (!LETTER.test(ch) && !DIGIT.test(ch) && ch !== '_') break;
      name += this.next();
    }
    return name;
  }

  private processDollar(): string {
    this.next(); // the '$'
    if (this.peek() !== '{') {
      const name = this.processName();
      if (name === '') return '$';
      const { value, set } = this.getEnv(name);
      if (!set && this.options.skipUnset) return '$' + name;
      return value;
    }

    this.next(); // the '{'
    const first = this.peek();
    if (first === END) this.fail("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') this.fail('syntax error: bad substitution');

    const name = this.processName();
    let modifier = this.next();
    if (modifier === END) this.fail("syntax error: missing '}'");

    if (modifier === '}') {
      const { value, set } = this.getEnv(name);
      if (!set && this.options.skipUnset) return '${' + name + '}';
      return value;
    }
    if (modifier === '/') return this.processReplacement(name);
    if (!':+-?#%'.includes(modifier)) this.fail(`unsupported modifier (${modifier}) in substitution`);

    let spelled = modifier;
    let nullIsUnset = false;
    if (modifier === ':') {
      nullIsUnset = true;
      modifier = this.next();
      spelled += modifier;
    }
    const patternMode = modifier === '#' || modifier === '%';
    if (nullIsUnset && patternMode) this.fail(`unsupported modifier (${spelled}) in substitution`);

    const word = this.processWordUntilBrace(patternMode);
    const { value, set } = this.getEnv(name);
    if (this.options.skipUnset && !set) return '${' + name + spelled + word + '}';

    switch (modifier) {
      case '-':
        return !set || (nullIsUnset && value === '') ? word : value;
      case '+':
        return !set || (nullIsUnset && value === '') ? '' : word;
      case '?':
        if (!set) this.fail(`${name}: ${word !== '' ? word : 'is not allowed to be unset'}`);
        if (nullIsUnset && value === '') this.fail(`${name}: ${word !== '' ? word : 'is not allowed to be empty'}`);
        return value;
      case '#':
      case '%': {
        // `##`/`%%` trim the longest match, `#`/`%` the shortest.
        const greedy = word.startsWith(modifier);
        const pattern = greedy ? word.slice(1) : word;
        const matcher = this.compilePattern(pattern);
        return modifier === '#' ? trimPrefix(value, matcher, greedy) : trimSuffix(value, matcher, greedy);
      }
      default:
        return this.fail(`unsupported modifier (${spelled}) in substitution`);
    }
  }

  private processWordUntilBrace(rawEscapes: boolean): string {
    try {
      return this.processStopOn('}', rawEscapes).value;
    } catch (error) {
      if (this.peek() === END) this.fail("syntax error: missing '}'");
      throw error;
    }
  }

  private processReplacement(name: string): string {
    const replaceAll = this.peek() === '/';
    if (replaceAll) this.next();
    let pattern: string;
    try {
      pattern = this.processStopOn('/', true).value;
    } catch (error) {
      if (this.peek() === END) this.fail("syntax error: missing '/' in ${}");
      throw error;
    }
    const replacement = this.processWordUntilBrace(true);
    const { value, set } = this.getEnv(name);
    if (this.options.skipUnset && !set) return '${' + name + '/' + pattern + '/' + replacement + '}';
    const source = this.compilePattern(pattern);
    const regex = new RegExp(source, replaceAll ? 'gu' : 'u');
    // A function replacement keeps `$&` and friends in the replacement literal.
    return value.replace(regex, () => replacement);
  }

  /** Shell glob (`*`, `?`, `\x`) to regular-expression source; `*` is greedy. */
  private compilePattern(pattern: string): string {
    let source = '';
    const chars = Array.from(pattern);
    for (let i = 0; i < chars.length; i++) {
      const ch = chars[i];
      if (ch === '*') {
        source += '[^]*';
      } else if (ch === '?') {
        source += '[^]';
      } else if (ch === '\\') {
        const following = chars[i + 1];
        // `\}` and `\/` were only needed to get past the ${...} syntax.
        if (following === '}' || following === '/') continue;
        if (following !== '*' && following !== '?' && following !== '\\') {
          this.fail(`invalid pattern (${pattern}) in substitution: invalid escape '\\${following ?? ''}'`);
        }
        i++;
        source += escapeRegExp(following);
      } else {
        source += escapeRegExp(ch);
      }
    }
    return source;
  }
}

function escapeRegExp(ch: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(ch) ? '\\' + ch : ch;
}

function trimPrefix(value: string, pattern: string, longest: boolean): string {
  const whole = new RegExp(`^(?:${pattern})$`, 'u');
  const points = Array.from(value);
  const order = longest ? range(points.length, -1) : range(0, points.length + 1);
  for (const length of order) {
    if (whole.test(points.slice(0, length).join(''))) return points.slice(length).join('');
  }
  return value;
}

function trimSuffix(value: string, pattern: string, longest: boolean): string {
  const whole = new RegExp(`^(?:${pattern})$`, 'u');
  const points = Array.from(value);
  const order = longest ? range(0, points.length + 1) : range(points.length, -1);
  for (const start of order) {
    if (whole.test(points.slice(start).join(''))) return points.slice(0, start).join('');
  }
  return value;
}

function range(from: number, to: number): number[] {
  const out: number[] = [];
  if (from <= to) for (let i = from; i < to; i++) out.push(i);
  else for (let i = from; i > to; i--) out.push(i);
  return out;
}
