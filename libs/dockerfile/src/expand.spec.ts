import { ExpansionError } from './errors';
import { expand, expandDetailed, expandWords } from './expand';

const ENV = {
  PWD: '/home',
  EMPTY: '',
  A: 'a',
  SPACED: 'x  y',
  FILE: 'archive.tar.gz',
  PATTERN: 'a*b',
};

describe('expand: substitution and quoting', () => {
  it.each([
    // plain words and references
    ['hello', 'hello'],
    ['$PWD', '/home'],
    ['${PWD}', '/home'],
    ['${PWD}/sub', '/home/sub'],
    ['$PWD$A', '/homea'],
    ['pre-$A-post', 'pre-a-post'],
    ['$NOPE', ''],
    ['x${NOPE}y', 'xy'],
    ['$', '$'],
    ['a$', 'a$'],
    ['$ a', '$ a'],
    ['$1', ''],
    // ${v:-w} and ${v-w}
    ['${PWD:-fallback}', '/home'],
    ['${NOPE:-fallback}', 'fallback'],
    ['${EMPTY:-fallback}', 'fallback'],
    ['${PWD-fallback}', '/home'],
    ['${NOPE-fallback}', 'fallback'],
    ['${EMPTY-fallback}', ''],
    ['${NOPE:-$A}', 'a'],
    ['${NOPE:-${EMPTY:-deep}}', 'deep'],
    ['${NOPE:-"two words"}', 'two words'],
    ['${NOPE:-\\}}', '}'],
    // ${v:+w} and ${v+w}
    ['${PWD:+alt}', 'alt'],
    ['${NOPE:+alt}', ''],
    ['${EMPTY:+alt}', ''],
    ['${EMPTY+alt}', 'alt'],
    ['${NOPE+alt}', ''],
    // ${v?msg} when fine
    ['${PWD?must be set}', '/home'],
    ['${PWD:?must be set}', '/home'],
    ['${EMPTY?must be set}', ''],
    // pattern modifiers
    ['${PWD#/h}', 'ome'],
    ['${PWD#*o}', 'me'],
    ['${FILE#*.}', 'tar.gz'],
    ['${FILE##*.}', 'gz'],
    ['${FILE%.*}', 'archive.tar'],
    ['${FILE%%.*}', 'archive'],
    ['${FILE%nomatch}', 'archive.tar.gz'],
    ['${FILE/tar/zip}', 'archive.zip.gz'],
    ['${FILE//a/A}', 'Archive.tAr.gz'],
    ['${FILE/a?c/X}', 'Xhive.tar.gz'],
    ['${PATTERN/\\*/-}', 'a-b'],
    ['${NOPE#x}', ''],
    // escapes outside quotes
    ['\\$PWD', '$PWD'],
    ['\\${PWD}', '${PWD}'],
    ['a\\ b', 'a b'],
    ['\\\\', '\\'],
    ['\\a\\b', 'ab'],
    ['trailing\\', 'trailing'],
    // single quotes are literal
    ["'$PWD'", '$PWD'],
    ["'a\\b'", 'a\\b'],
    ["'\"$PWD\"'", '"$PWD"'],
    // double quotes allow expansion; backslash escapes only " $ and itself
    ['"$PWD"', '/home'],
    ['"${NOPE:-x}"', 'x'],
    ["\"'$PWD'\"", "'/home'"],
    ['"a\\"b"', 'a"b'],
    ['"\\$PWD"', '$PWD'],
    ['"a\\b"', 'a\\b'],
    ['"a\\\\b"', 'a\\b'],
    ['"  spaced  "', '  spaced  '],
    ['a"b"c\'d\'e', 'abcde'],
  ])('%s → %j', (word, expected) => {
    expect(expand(word, ENV)).toBe(expected);
  });
});

describe('expand: errors', () => {
  it.each([
    ['${NOPE?custom message}', 'NOPE: custom message'],
    ['${NOPE:?}', 'NOPE: is not allowed to be unset'],
    ['${NOPE?}', 'NOPE: is not allowed to be unset'],
    ['${EMPTY:?}', 'EMPTY: is not allowed to be empty'],
    ['${EMPTY:?say something}', 'EMPTY: say something'],
    ['${}', 'syntax error: bad substitution'],
    ['${:x}', 'syntax error: bad substitution'],
    ['${A', "syntax error: missing '}'"],
    ['${A:-x', "syntax error: missing '}'"],
    ['${', "syntax error: missing '}'"],
    ['${A!x}', 'unsupported modifier (!) in substitution'],
    ['${A:x}', 'unsupported modifier (:x) in substitution'],
    ['${A:#x}', 'unsupported modifier (:#) in substitution'],
    ['${A/x', "syntax error: missing '/' in ${}"],
    ['"unterminated', 'unexpected end of statement while looking for matching double-quote'],
    ["'unterminated", 'unexpected end of statement while looking for matching single-quote'],
  ])('%s fails with %j', (word, detail) => {
    let caught: unknown;
    try {
      expand(word, ENV);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ExpansionError);
    expect((caught as ExpansionError).detail).toBe(detail);
    expect((caught as ExpansionError).word).toBe(word);
    expect((caught as ExpansionError).message).toBe(`failed to process "${word}": ${detail}`);
  });
});

describe('expandWords: splitting for list instructions', () => {
  it.each([
    ['a b  c', ['a', 'b', 'c']],
    ['$SPACED z', ['x', 'y', 'z']],
    ['"$SPACED" z', ['x  y', 'z']],
    ["'a b' c", ['a b', 'c']],
    ['a\\ b c', ['a b', 'c']],
    ['""', []],
    ['a "" b', ['a', 'b']],
    ['${NOPE:-80 443}', ['80', '443']],
    ['pre$SPACED', ['prex', 'y']],
    ['', []],
  ])('%s → %j', (word, expected) => {
    expect(expandWords(word, ENV)).toEqual(expected);
  });
});

describe('expand: options', () => {
  it('uses the backtick as escape character when asked, leaving backslashes alone', () => {
    expect(expand('c:\\path\\$A', ENV, { escapeChar: '`' })).toBe('c:\\path\\a');
    expect(expand('`$A', ENV, { escapeChar: '`' })).toBe('$A');
    expect(expand('"say `"hi`""', ENV, { escapeChar: '`' })).toBe('say "hi"');
  });

  it('can leave unset references as written', () => {
    expect(expand('$NOPE ${NOPE} ${NOPE:-x} $A', ENV, { skipUnset: true })).toBe('$NOPE ${NOPE} ${NOPE:-x} a');
  });

  it('can keep quotes and escapes', () => {
    expect(expand(`"$A" 'b' \\c`, ENV, { rawQuotes: true, rawEscapes: true })).toBe(`"a" 'b' \\c`);
  });

  it('can treat quotes as ordinary characters (heredoc file contents)', () => {
    expect(expand(`echo "$A" '$A'`, ENV, { skipProcessQuotes: true })).toBe(`echo "a" 'a'`);
  });

  it('accepts a Map or a lookup function as the environment', () => {
    expect(expand('$X', new Map([['X', 'from-map']]))).toBe('from-map');
    expect(expand('$X', (name) => (name === 'X' ? 'from-fn' : undefined))).toBe('from-fn');
  });

  it('does not read inherited object properties as variables', () => {
    expect(expand('${toString:-unset}', {})).toBe('unset');
  });

  it('reports which variables were used', () => {
    const result = expandDetailed('$A ${NOPE:-x} $EMPTY', ENV);
    expect(result.matched.sort()).toEqual(['A', 'EMPTY']);
    expect(result.unmatched).toEqual(['NOPE']);
  });

  it('handles non-ASCII names and values', () => {
    expect(expand('${ÜBER}-$ÜBER', { ÜBER: 'ü🐳' })).toBe('ü🐳-ü🐳');
  });
});
