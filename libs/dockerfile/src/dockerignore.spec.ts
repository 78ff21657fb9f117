import { cleanPath, createIgnoreMatcher, parseDockerignore, readDockerignorePatterns } from './dockerignore';
import { DockerignoreError } from './errors';

const excluded = (ignoreFile: string, paths: string[]): string[] => {
  const matcher = parseDockerignore(ignoreFile);
  return paths.filter((path) => matcher.isExcluded(path));
};

describe('.dockerignore: Docker documentation examples', () => {
  const example = '# comment\n*/temp*\n*/*/temp*\ntemp?\n';

  it('*/temp* excludes temp-prefixed names one level below the root only', () => {
    expect(excluded(example, ['somedir/temporary.txt', 'somedir/temp', 'temporary.txt', 'a/b/c/temp.txt'])).toEqual([
      'somedir/temporary.txt',
      'somedir/temp',
    ]);
  });

  it('*/*/temp* excludes two levels below the root', () => {
    expect(excluded(example, ['somedir/subdir/temporary.txt', 'x/y/temp/inside.txt'])).toEqual([
      'somedir/subdir/temporary.txt',
      'x/y/temp/inside.txt',
    ]);
  });

  it('temp? excludes one-character extensions of temp at the root', () => {
    expect(excluded(example, ['tempa', 'tempb', 'temp', 'tempab'])).toEqual(['tempa', 'tempb']);
    expect(excluded('temp?\n', ['dir/tempa'])).toEqual([]);
  });

  it('**/*.go matches in every directory, the root included', () => {
    expect(excluded('**/*.go', ['main.go', 'cmd/tool/main.go', 'main.go.txt', 'docs/go.md'])).toEqual([
      'main.go',
      'cmd/tool/main.go',
    ]);
  });

  it('*.md with !README.md keeps only the README (patterns are anchored at the root)', () => {
    expect(excluded('*.md\n!README.md\n', ['CHANGELOG.md', 'README.md', 'docs/guide.md'])).toEqual(['CHANGELOG.md']);
  });

  it('*.md, !README*.md, README-secret.md: the last matching line wins', () => {
    const file = '*.md\n!README*.md\nREADME-secret.md\n';
    expect(excluded(file, ['CHANGELOG.md', 'README.md', 'README-dev.md', 'README-secret.md'])).toEqual([
      'CHANGELOG.md',
      'README-secret.md',
    ]);
  });

  it('*.md, README-secret.md, !README*.md: the middle line has no effect', () => {
    const file = '*.md\nREADME-secret.md\n!README*.md\n';
    expect(excluded(file, ['CHANGELOG.md', 'README.md', 'README-secret.md'])).toEqual(['CHANGELOG.md']);
  });
});

describe('.dockerignore: rules that differ from gitignore', () => {
  it('does not match unanchored names at depth (node_modules only at the root)', () => {
    expect(excluded('node_modules\n', ['node_modules', 'node_modules/x/index.js', 'packages/a/node_modules/y.js'])).toEqual([
      'node_modules',
      'node_modules/x/index.js',
    ]);
  });

  it('excludes the contents of a matched directory', () => {
    expect(excluded('build\n', ['build/out/app.js', 'builder/x'])).toEqual(['build/out/app.js']);
  });

  it('re-includes a file inside an excluded directory with an exception', () => {
    const file = 'logs\n!logs/keep.log\n';
    expect(excluded(file, ['logs/a.log', 'logs/keep.log', 'logs/keep.log/inner'])).toEqual(['logs/a.log']);
  });

  it('cleans patterns: leading slash, ./, .., trailing slash, doubled slashes', () => {
    expect(readDockerignorePatterns('/abs\n./dot/x\na/../b\ntrail/\nx//y\n!/neg/\n').map((p) => [p.pattern, p.exception])).toEqual([
      ['abs', false],
      ['dot/x', false],
      ['b', false],
      ['trail', false],
      ['x/y', false],
      ['neg', true],
    ]);
    expect(excluded('/abs\ntrail/\n', ['abs', 'trail/file'])).toEqual(['abs', 'trail/file']);
  });

  it('treats # only in column 1 as a comment and trims whitespace', () => {
    const patterns = readDockerignorePatterns('# comment\n  #not-a-comment\n\n   spaced.txt  \r\n');
    expect(patterns.map((p) => [p.pattern, p.line])).toEqual([
      ['#not-a-comment', 2],
      ['spaced.txt', 4],
    ]);
  });

  it('supports ? and character classes without crossing /', () => {
    expect(excluded('file[0-9].txt\n', ['file1.txt', 'filea.txt'])).toEqual(['file1.txt']);
    expect(excluded('file[^0-9].txt\n', ['file1.txt', 'filea.txt'])).toEqual(['filea.txt']);
    expect(excluded('a?c\n', ['abc', 'a/c'])).toEqual(['abc']);
    expect(excluded('*\n', ['top', 'dir/file'])).toEqual(['top', 'dir/file']);
  });

  it('escapes special characters with a backslash', () => {
    expect(excluded('weird\\*name\n', ['weird*name', 'weirdXname'])).toEqual(['weird*name']);
    expect(excluded('q\\?\n', ['q?', 'qa'])).toEqual(['q?']);
  });

  it('matches ** in the middle against zero or more directories', () => {
    expect(excluded('a/**/z\n', ['a/z', 'a/b/z', 'a/b/c/z', 'az', 'b/a/z'])).toEqual(['a/z', 'a/b/z', 'a/b/c/z']);
    expect(excluded('dist/**\n', ['dist/x', 'dist/a/b', 'dist'])).toEqual(['dist/x', 'dist/a/b']);
  });

  it('never excludes the context root', () => {
    const matcher = parseDockerignore('*\n**\n.\n');
    expect(matcher.isExcluded('.')).toBe(false);
    expect(matcher.isExcluded('')).toBe(false);
    expect(matcher.isExcluded('anything')).toBe(true);
  });

  it('accepts paths with ./ or a leading slash', () => {
    const matcher = parseDockerignore('secret.txt\n');
    expect(matcher.isExcluded('./secret.txt')).toBe(true);
    expect(matcher.isExcluded('/secret.txt')).toBe(true);
  });

  it('strips a UTF-8 BOM', () => {
    expect(excluded('\ufeffsecret\n', ['secret'])).toEqual(['secret']);
  });

  it('rejects an exception without a pattern and broken patterns, with the line', () => {
    expect(() => parseDockerignore('ok\n!\n')).toThrow(DockerignoreError);
    expect(() => parseDockerignore('ok\n!\n')).toThrow('.dockerignore:2: illegal exclusion pattern: "!"');
    expect(() => parseDockerignore('[abc\n')).toThrow('unterminated [');
    expect(() => parseDockerignore('x\\\n')).toThrow('trailing escape');
    expect(() => parseDockerignore('[z-a]\n')).toThrow(DockerignoreError);
  });

  it('builds the same matcher from a list (COPY --exclude)', () => {
    const matcher = createIgnoreMatcher(['*.md', '!KEEP.md']);
    expect(matcher.isExcluded('a.md')).toBe(true);
    expect(matcher.isExcluded('KEEP.md')).toBe(false);
  });

  it('implements filepath.Clean', () => {
    expect(['', '.', 'a/./b', 'a/../../b', '/../a', 'a//b/', '/'].map(cleanPath)).toEqual(['.', '.', 'a/b', '../b', '/a', 'a/b', '/']);
  });
});

describe('.dockerignore: shouldDescend', () => {
  it('prunes excluded directories when there are no exceptions', () => {
    const matcher = parseDockerignore('node_modules\n.git\n');
    expect(matcher.hasExceptions).toBe(false);
    expect(matcher.shouldDescend('node_modules')).toBe(false);
    expect(matcher.shouldDescend('src')).toBe(true);
  });

  it('descends into an excluded directory an exception can reach', () => {
    const matcher = parseDockerignore('docs\n!docs/api/*.md\n');
    expect(matcher.shouldDescend('docs')).toBe(true);
    expect(matcher.shouldDescend('docs/api')).toBe(true);
    expect(matcher.shouldDescend('docs/images')).toBe(false);
    expect(matcher.isExcluded('docs/api/index.md')).toBe(false);
    expect(matcher.isExcluded('docs/images/a.png')).toBe(true);
  });

  it('always descends when an exception uses **', () => {
    const matcher = parseDockerignore('vendor\n!**/LICENSE\n');
    expect(matcher.shouldDescend('vendor/deep/er')).toBe(true);
    expect(matcher.isExcluded('vendor/deep/LICENSE')).toBe(false);
  });

  it('does not descend when the only exception is shallower and later re-excluded', () => {
    const matcher = parseDockerignore('*\n!src\nsrc/generated\n');
    expect(matcher.shouldDescend('src')).toBe(true);
    expect(matcher.shouldDescend('src/generated')).toBe(false);
    expect(matcher.isExcluded('src/generated/x.ts')).toBe(true);
    expect(matcher.isExcluded('src/main.ts')).toBe(false);
  });
});
