import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DockerfileSemanticError, DockerfileSyntaxError } from './errors';
import { parseDockerfile, parseInstructions } from './parser';
import type { Instruction, ParsedDockerfile } from './types';

const FIXTURES = join(__dirname, '__fixtures__');
const fixtureText = (name: string): string => readFileSync(join(FIXTURES, `${name}.Dockerfile`), 'utf8');
const fixture = (name: string): ParsedDockerfile => parseDockerfile(fixtureText(name));
const all = (parsed: ParsedDockerfile): Instruction[] => [
  ...parsed.globalArgs,
  ...parsed.stages.flatMap((stage) => [stage.from, ...stage.instructions]),
];

/** Expected instruction lists, per fixture: every fixture file must have an entry here. */
const EXPECTED: Record<string, { escape?: string; instructions: object[]; warnings?: string[] }> = {
  petclinic: {
    instructions: [
      { kind: 'FROM', image: 'tomcat:8', line: 1 },
      { kind: 'COPY', sources: ['target/petclinic.war'], destination: '/usr/local/tomcat/webapps', line: 2 },
      { kind: 'EXPOSE', ports: ['8080'], line: 3 },
    ],
  },
  'multi-stage': {
    instructions: [
      { kind: 'FROM', image: 'node:20-alpine', stageName: 'build', line: 2 },
      { kind: 'WORKDIR', path: '/src' },
      { kind: 'COPY', sources: ['package.json', 'package-lock.json'], destination: './' },
      { kind: 'RUN', command: { form: 'shell', command: 'npm ci' } },
      { kind: 'COPY', sources: ['.'], destination: '.' },
      { kind: 'RUN', command: { form: 'shell', command: 'npm run build' }, line: 7 },
      { kind: 'FROM', image: 'nginx:1.27', stageName: 'runtime', line: 9 },
      { kind: 'COPY', from: 'build', sources: ['/src/dist'], destination: '/usr/share/nginx/html' },
      { kind: 'EXPOSE', ports: ['80'] },
      { kind: 'CMD', command: { form: 'exec', args: ['nginx', '-g', 'daemon off;'] }, line: 12 },
    ],
  },
  'heredoc-run': {
    instructions: [
      { kind: 'FROM' },
      {
        kind: 'RUN',
        line: 2,
        endLine: 5,
        command: { form: 'shell', command: '<<EOF' },
        heredocs: [{ name: 'EOF', content: 'apt-get update\napt-get install -y curl\n', expand: true, chomp: false }],
      },
      {
        kind: 'RUN',
        line: 6,
        endLine: 9,
        command: { form: 'shell', command: '<<-EOT bash' },
        heredocs: [{ name: 'EOT', content: 'set -e\necho indented\n', chomp: true }],
      },
      { kind: 'RUN', line: 10, heredocs: [{ name: 'EOF', content: 'echo $HOME stays literal\n', expand: false }] },
      { kind: 'RUN', line: 13, endLine: 15, command: { form: 'shell', command: 'python3 <<EOF > /out.txt' }, heredocs: [{ content: "print('hi')\n" }] },
    ],
  },
  'heredoc-copy': {
    instructions: [
      { kind: 'FROM' },
      {
        kind: 'COPY',
        line: 2,
        endLine: 6,
        sources: [],
        destination: '/dst/',
        heredocSources: [
          { name: 'a.txt', content: 'first file\n', expand: true },
          { name: 'b.txt', content: 'second $file\n', expand: false },
        ],
      },
      { kind: 'COPY', line: 7, chmod: '755', destination: '/usr/local/bin/hello', heredocSources: [{ name: 'EOF', content: '#!/bin/sh\necho hello\n' }] },
    ],
  },
  'heredoc-shebang': {
    instructions: [
      { kind: 'FROM' },
      { kind: 'RUN', heredocs: [{ content: '#!/usr/bin/env python3\nprint("from a heredoc")\n' }] },
      { kind: 'RUN', command: { form: 'shell', command: '3<<FD3 cat <&3' }, heredocs: [{ name: 'FD3', fileDescriptor: 3, content: 'three\n' }] },
    ],
  },
  'escape-backtick': {
    escape: '`',
    instructions: [
      { kind: 'FROM', image: 'mcr.microsoft.com/windows/servercore:ltsc2022', line: 3 },
      // A trailing backslash is an ordinary character once the escape is a backtick.
      { kind: 'COPY', sources: ['testfile.txt'], destination: 'c:\\', line: 4, endLine: 4 },
      { kind: 'RUN', command: { form: 'shell', command: 'dir c:\\     && echo done' }, line: 5, endLine: 6 },
      { kind: 'WORKDIR', path: 'c:\\app' },
      { kind: 'ENV', pairs: [{ key: 'DIR', value: 'c:\\data' }, { key: 'PATH_SEP', value: '\\' }] },
    ],
  },
  'odd-whitespace': {
    instructions: [
      { kind: 'FROM', image: 'alpine:3.20', column: 3, keyword: 'FROM' },
      { kind: 'RUN', keyword: 'run', column: 3, command: { form: 'shell', command: 'echo   spaced   out' } },
      { kind: 'COPY', keyword: 'copy', sources: ['a', 'b'], destination: '/c/', line: 4 },
      { kind: 'ENV', legacy: true, pairs: [{ key: 'KEY', value: 'value with  spaces' }], line: 7, column: 2 },
    ],
  },
  crlf: {
    instructions: [
      { kind: 'FROM', image: 'alpine', original: 'FROM alpine' },
      { kind: 'RUN', line: 2, endLine: 4, command: { form: 'shell', command: 'apk add --no-cache     curl     git' } },
      { kind: 'LABEL', line: 5, pairs: [{ key: 'a', value: 'b' }] },
    ],
  },
  bom: {
    instructions: [
      { kind: 'FROM', image: 'busybox', line: 2 },
      { kind: 'CMD', command: { form: 'shell', command: 'echo bom' } },
    ],
    warnings: ['JSONArgsRecommended@3'],
  },
  'continuation-comments': {
    instructions: [
      { kind: 'FROM' },
      {
        kind: 'RUN',
        line: 2,
        endLine: 7,
        command: { form: 'shell', command: 'apt-get update     && apt-get install -y       vim     && rm -rf /var/lib/apt/lists/*' },
      },
      { kind: 'RUN', command: { form: 'shell', command: 'echo hello # not a comment, passed to the shell' } },
    ],
  },
  'empty-continuation': {
    instructions: [
      { kind: 'FROM' },
      { kind: 'RUN', line: 2, endLine: 6, command: { form: 'shell', command: 'echo one     two     three' } },
      { kind: 'RUN', line: 7, command: { form: 'shell', command: 'echo after' } },
    ],
    warnings: ['NoEmptyContinuation@2'],
  },
  'json-forms': {
    instructions: [
      { kind: 'FROM' },
      { kind: 'SHELL', shell: ['/bin/ash', '-eo', 'pipefail', '-c'] },
      { kind: 'RUN', command: { form: 'exec', args: ['echo', 'exec form'] } },
      { kind: 'VOLUME', json: true, volumes: ['/data', '/var/log app'] },
      { kind: 'COPY', json: true, sources: ['my file.txt'], destination: '/dest dir/' },
      { kind: 'ENTRYPOINT', command: { form: 'exec', args: ['/entrypoint.sh'] } },
      { kind: 'CMD', command: { form: 'exec', args: ['--help'] } },
    ],
  },
  'invalid-json': {
    instructions: [
      { kind: 'FROM' },
      { kind: 'CMD', command: { form: 'shell', command: `["echo", 'single quotes are not JSON']` } },
      { kind: 'ENTRYPOINT', command: { form: 'shell', command: '["/bin/sh", "-c",]' } },
      { kind: 'RUN', command: { form: 'shell', command: '["unterminated' } },
      { kind: 'VOLUME', json: false, volumes: ['[/var/data]'] },
    ],
    warnings: ['InvalidJSON@2', 'JSONArgsRecommended@2', 'InvalidJSON@3', 'JSONArgsRecommended@3', 'InvalidJSON@4', 'InvalidJSON@5'],
  },
  onbuild: {
    instructions: [
      { kind: 'FROM' },
      { kind: 'ONBUILD', expression: 'COPY package.json /app/', trigger: { kind: 'COPY', sources: ['package.json'], destination: '/app/', column: 9 } },
      { kind: 'ONBUILD', expression: 'RUN npm install', trigger: { kind: 'RUN', command: { form: 'shell', command: 'npm install' } } },
      { kind: 'ONBUILD', keyword: 'onbuild', expression: 'ADD --chown=node . /app/src', trigger: { kind: 'ADD', chown: 'node', sources: ['.'] } },
    ],
  },
  healthcheck: {
    instructions: [
      { kind: 'FROM' },
      {
        kind: 'HEALTHCHECK',
        type: 'CMD',
        line: 2,
        endLine: 3,
        test: ['CMD-SHELL', 'curl -f http://localhost/ || exit 1'],
        options: { intervalNs: 300e9, timeoutNs: 3e9, startPeriodNs: 0, startIntervalNs: 0, retries: 0 },
      },
      {
        kind: 'HEALTHCHECK',
        type: 'CMD',
        test: ['CMD', '/healthcheck', '--quick'],
        options: { intervalNs: 0, startPeriodNs: 90e9, startIntervalNs: 500e6, retries: 3 },
      },
      { kind: 'HEALTHCHECK', type: 'NONE' },
      { kind: 'HEALTHCHECK', type: 'CMD', test: ['CMD-SHELL', 'true'] },
    ],
  },
  'arg-before-from': {
    instructions: [
      { kind: 'ARG', args: [{ name: 'VERSION', defaultValue: 'latest' }] },
      { kind: 'ARG', args: [{ name: 'REGISTRY' }] },
      { kind: 'FROM', image: '${REGISTRY:-docker.io}/library/busybox:$VERSION' },
      { kind: 'ARG', args: [{ name: 'VERSION' }] },
      { kind: 'RUN', command: { form: 'shell', command: 'echo $VERSION > image_version' } },
    ],
  },
  'env-forms': {
    instructions: [
      { kind: 'FROM' },
      { kind: 'ENV', legacy: true, pairs: [{ key: 'LEGACY', value: 'value with spaces' }] },
      { kind: 'ENV', legacy: false, pairs: [{ key: 'A', value: '1' }, { key: 'B', value: '"two words"' }, { key: 'C', value: "'single $quoted'" }] },
      { kind: 'ENV', line: 4, endLine: 5, pairs: [{ key: 'D', value: '\\$escaped' }, { key: 'E', value: 'dollar\\ space' }, { key: 'F', value: 'last' }] },
      // The legacy form sets ONE variable to the whole remainder.
      { kind: 'ENV', legacy: true, pairs: [{ key: 'ONE', value: 'TWO= THREE=world' }] },
    ],
  },
  'label-forms': {
    instructions: [
      { kind: 'FROM' },
      { kind: 'LABEL', pairs: [{ key: '"com.example.vendor"', value: '"ACME Incorporated"' }] },
      { kind: 'LABEL', pairs: [{ key: 'version', value: '"1.0"' }, { key: 'description', value: '"This text illustrates that label-values can span multiple lines."' }] },
      { kind: 'LABEL', pairs: [{ key: 'multi.label1' }, { key: 'multi.label2', value: 'value2' }, { key: 'other' }] },
    ],
  },
  expose: {
    instructions: [
      { kind: 'FROM' },
      { kind: 'EXPOSE', ports: ['80', '443/tcp'] },
      { kind: 'EXPOSE', ports: ['53/udp', '8000-8010', '${EXTRA_PORT}'] },
    ],
  },
  'copy-add-flags': {
    instructions: [
      { kind: 'FROM' },
      { kind: 'COPY', chown: '55:mygroup', chmod: '644', link: true, sources: ['files*'], destination: '/somedir/' },
      { kind: 'COPY', parents: true, excludes: ['*.md', '*.txt'], sources: ['./x/**/y/'] },
      { kind: 'ADD', checksum: 'sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d', destination: '/' },
      { kind: 'ADD', keepGitDir: true, unpack: false, sources: ['https://github.com/moby/buildkit.git#v0.10.1'] },
      { kind: 'ADD', sources: ['hom?.txt'], destination: '/mydir/', keepGitDir: false, link: false },
    ],
  },
  'run-flags': {
    instructions: [
      { kind: 'FROM' },
      {
        kind: 'RUN',
        line: 2,
        endLine: 5,
        mounts: ['type=cache,target=/root/.cache/pip', 'type=secret,id=netrc,target=/root/.netrc'],
        network: 'none',
        security: 'sandbox',
        command: { form: 'shell', command: 'pip install -r requirements.txt' },
      },
    ],
  },
  directives: {
    // `#ESCAPE = \` is a directive (key case-insensitive, spaces allowed); the plain comment ends the block.
    escape: '\\',
    instructions: [{ kind: 'FROM', line: 6 }, { kind: 'RUN', command: { form: 'shell', command: 'echo a     b' } }],
  },
  'directive-after-comment': {
    escape: '\\',
    instructions: [{ kind: 'FROM', line: 3 }, { kind: 'RUN', line: 4, endLine: 5, command: { form: 'shell', command: 'echo     continued' } }],
  },
  'continue-at-eof': {
    instructions: [{ kind: 'FROM' }, { kind: 'RUN', line: 2, command: { form: 'shell', command: 'echo last' } }],
  },
  'misc-instructions': {
    instructions: [
      { kind: 'FROM' },
      { kind: 'MAINTAINER', maintainer: 'Jane Doe <jane@example.com>' },
      { kind: 'USER', user: 'app:app' },
      { kind: 'WORKDIR', path: '/srv/${APP_DIR}' },
      { kind: 'VOLUME', json: false, volumes: ['/var/log', '/var/db'] },
      { kind: 'STOPSIGNAL', signal: 'SIGTERM' },
      { kind: 'ARG', args: [{ name: 'A' }, { name: 'B', defaultValue: '2' }, { name: 'C', defaultValue: '"three 3"' }] },
    ],
    warnings: ['MaintainerDeprecated@2'],
  },
  'from-platform': {
    instructions: [
      { kind: 'FROM', platform: '$BUILDPLATFORM', image: 'golang:1.22', stageName: 'build' },
      { kind: 'ARG', args: [{ name: 'TARGETOS' }, { name: 'TARGETARCH' }] },
      { kind: 'RUN' },
      { kind: 'FROM', image: 'scratch', line: 5 },
      { kind: 'COPY', from: '0', sources: ['/out/app'], destination: '/app' },
      { kind: 'ENTRYPOINT', command: { form: 'exec', args: ['/app'] } },
    ],
  },
  'case-insensitive': {
    instructions: [
      { kind: 'FROM', keyword: 'from', stageName: 'builder' },
      { kind: 'RUN', keyword: 'Run' },
      { kind: 'FROM', keyword: 'fRoM', image: 'builder' },
      { kind: 'COPY', keyword: 'CoPy', from: 'BUILDER', sources: ['/'], destination: '/x' },
    ],
  },
  'double-escape-end': {
    // `\\` at the end of a line is an escaped backslash, not a continuation.
    instructions: [
      { kind: 'FROM' },
      { kind: 'RUN', line: 2, endLine: 2, command: { form: 'shell', command: 'echo literal-backslash\\\\' } },
      { kind: 'RUN', line: 3, command: { form: 'shell', command: 'echo next' } },
    ],
  },
};

describe('fixture corpus', () => {
  const files = readdirSync(FIXTURES).filter((file) => file.endsWith('.Dockerfile'));

  it('has at least 25 fixtures, each with expectations', () => {
    expect(files.length).toBeGreaterThanOrEqual(25);
    expect(files.map((file) => file.replace(/\.Dockerfile$/, '')).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it.each(Object.keys(EXPECTED))('%s parses as expected', (name) => {
    const parsed = fixture(name);
    const expected = EXPECTED[name];
    expect(all(parsed)).toMatchObject(expected.instructions);
    expect(parsed.directives.escape).toBe(expected.escape ?? '\\');
    expect(parsed.warnings.map((w) => `${w.rule}@${w.line}`)).toEqual(expected.warnings ?? []);
  });

  it('keeps real CRLF and BOM bytes in those fixtures (so the tests above exercise them)', () => {
    expect(fixtureText('crlf')).toContain('\r\n');
    expect(fixtureText('bom').charCodeAt(0)).toBe(0xfeff);
    expect(fixture('bom').directives.syntax).toBe('docker/dockerfile:1');
  });

  it('records directives, including check', () => {
    expect(fixture('directives').directives).toEqual({
      escape: '\\',
      syntax: 'docker/dockerfile:1.7',
      check: 'skip=JSONArgsRecommended;error=true',
    });
  });

  it('groups instructions into stages with global ARGs first', () => {
    const parsed = fixture('multi-stage');
    expect(parsed.globalArgs).toEqual([]);
    expect(parsed.stages.map((s) => [s.index, s.name, s.from.image, s.instructions.length])).toEqual([
      [0, 'build', 'node:20-alpine', 5],
      [1, 'runtime', 'nginx:1.27', 3],
    ]);
    expect(fixture('arg-before-from').globalArgs.map((a) => a.args[0].name)).toEqual(['VERSION', 'REGISTRY']);
  });

  it('keeps the original logical line of each instruction', () => {
    const [, run] = all(fixture('continuation-comments'));
    expect(run.original).toBe('RUN apt-get update     && apt-get install -y       vim     && rm -rf /var/lib/apt/lists/*');
    expect(all(fixture('odd-whitespace'))[1].original).toBe('run   echo   spaced   out');
  });
});

describe('parser edge cases', () => {
  const instructions = (text: string): Instruction[] => parseInstructions(text).instructions;

  it('reads the escape directive with a backtick and uses it for continuations', () => {
    const [, run] = instructions('# escape=`\nFROM x\nRUN a `\n  b\n');
    expect(run).toMatchObject({ kind: 'RUN', command: { command: 'a   b' } });
  });

  it('allows trailing whitespace after the continuation character', () => {
    const [, run] = instructions('FROM x\nRUN a \\  \t\n b\n');
    expect(run).toMatchObject({ command: { command: 'a  b' }, endLine: 3 });
  });

  it('treats a directive after an instruction as a comment', () => {
    expect(parseInstructions('FROM x\n# escape=`\nRUN a \\\n b\n').directives.escape).toBe('\\');
  });

  it('ignores unknown directives and stops looking after them', () => {
    const parsed = parseInstructions('# foo=bar\n# escape=`\nFROM x\n');
    expect(parsed.directives).toEqual({ escape: '\\' });
  });

  it('ignores a comment line inside a JSON continuation', () => {
    const [, cmd] = instructions('FROM x\nCMD ["a", \\\n# note\n "b"]\n');
    expect(cmd).toMatchObject({ kind: 'CMD', command: { form: 'exec', args: ['a', 'b'] } });
  });

  it('strips leading tabs from <<- heredoc terminators and content only', () => {
    const [, run] = instructions('FROM x\nRUN <<-END\n\t  keep spaces\n\tEND\n');
    expect(run).toMatchObject({ heredocs: [{ content: '  keep spaces\n' }] });
  });

  it('does not treat quoted or JSON << as a heredoc', () => {
    const [, quoted, json] = instructions('FROM x\nRUN echo "<<EOF"\nRUN ["cat", "<<EOF"]\n');
    expect(quoted).toMatchObject({ heredocs: [], command: { command: 'echo "<<EOF"' } });
    expect(json).toMatchObject({ heredocs: [], command: { form: 'exec', args: ['cat', '<<EOF'] } });
  });

  it('reads heredocs under ONBUILD', () => {
    const [, onbuild, after] = instructions('FROM x\nONBUILD RUN <<EOF\necho hi\nEOF\nRUN after\n');
    expect(onbuild).toMatchObject({ kind: 'ONBUILD', trigger: { kind: 'RUN', heredocs: [{ content: 'echo hi\n' }] }, endLine: 4 });
    expect(after).toMatchObject({ kind: 'RUN', line: 5 });
  });

  it('parses ENV values with = inside quotes and keeps quotes for expansion', () => {
    const [, env] = instructions('FROM x\nENV OPTS="-Dx=1 -Dy=2" EMPTY=\n');
    expect(env).toMatchObject({ pairs: [{ key: 'OPTS', value: '"-Dx=1 -Dy=2"' }, { key: 'EMPTY', value: '' }] });
  });

  it('accepts flags with quoted values', () => {
    const [, copy] = instructions('FROM x\nCOPY --chown="user name" a b\n');
    expect(copy).toMatchObject({ chown: 'user name', sources: ['a'], destination: 'b' });
  });

  it('lower-cases the stage name and keeps the image as written', () => {
    const [from] = instructions('FROM Alpine AS Build-1.x\n');
    expect(from).toMatchObject({ image: 'Alpine', stageName: 'build-1.x' });
  });
});

describe('syntax errors carry line and column', () => {
  const syntaxError = (text: string): DockerfileSyntaxError => {
    try {
      parseDockerfile(text);
    } catch (error) {
      if (error instanceof DockerfileSyntaxError) return error;
      throw error;
    }
    throw new Error('expected a DockerfileSyntaxError');
  };

  it.each([
    ['FROM alpine\nFORM alpine\n', 2, 1, 'unknown instruction: FORM (did you mean FROM?)'],
    ['FROM alpine\n   BOGUS x\n', 2, 4, 'unknown instruction: BOGUS'],
    ['FROM alpine\nCOPY --form=x a b\n', 2, 6, 'unknown flag: form'],
    ['FROM alpine\nCOPY --link=maybe a b\n', 2, 6, 'expecting boolean value for flag link, not: maybe'],
    ['FROM alpine\nCOPY --from a b\n', 2, 6, 'missing a value on flag: from'],
    ['FROM alpine\nCOPY --chown=a --chown=b x y\n', 2, 16, 'duplicate flag specified: chown'],
    ['FROM alpine\nENV --x=1 A=b\n', 2, 5, 'unknown flag: x'],
    ['FROM alpine\nCOPY onlyone\n', 2, 1, 'COPY requires at least two arguments, but only one was provided'],
    ['FROM alpine\nENV\n', 2, 1, 'ENV requires at least one argument'],
    ['FROM alpine\nENV A=1 B\n', 2, 1, "can't find = in \"B\""],
    ['FROM alpine\nENV ONLYKEY\n', 2, 1, 'ENV must have two arguments'],
    ['FROM alpine\nSHELL /bin/bash -c\n', 2, 1, 'SHELL requires the arguments to be in JSON form'],
    ['FROM alpine\nCMD ["a", 1]\n', 2, 1, 'arrays must be comprised of strings only'],
    ['FROM a b\n', 1, 1, 'FROM requires either one or three arguments'],
    ['FROM a AS 1abc\n', 1, 1, 'invalid name for build stage'],
    ['FROM a\nHEALTHCHECK NONE x\n', 2, 1, 'HEALTHCHECK NONE takes no arguments'],
    ['FROM a\nHEALTHCHECK CMD\n', 2, 1, 'Missing command after HEALTHCHECK CMD'],
    ['FROM a\nHEALTHCHECK SOMETIMES x\n', 2, 1, 'Unknown type "SOMETIMES" in HEALTHCHECK (try CMD)'],
    ['FROM a\nHEALTHCHECK --interval=0.5ms CMD x\n', 2, 1, 'cannot be less than 1ms'],
    ['FROM a\nHEALTHCHECK --timeout=soon CMD x\n', 2, 1, 'invalid duration'],
    ['FROM a\nHEALTHCHECK --retries=-1 CMD x\n', 2, 1, '--retries cannot be negative (-1)'],
    ['FROM a\nONBUILD ONBUILD RUN x\n', 2, 1, 'Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed'],
    ['FROM a\nONBUILD FROM b\n', 2, 1, "FROM isn't allowed as an ONBUILD trigger"],
    ['FROM a\nONBUILD MAINTAINER me\n', 2, 1, "MAINTAINER isn't allowed as an ONBUILD trigger"],
    ['FROM a\nONBUILD NOPE x\n', 2, 9, 'unknown instruction: NOPE'],
    ['FROM a\nRUN --network=bridge x\n', 2, 1, 'unsupported network mode "bridge"'],
    ['FROM a\nRUN <<EOF\nnever closed\n', 2, 1, 'unterminated heredoc "EOF"'],
    ['FROM a\nCOPY <<EOF <<EOF2\nx\nEOF\n', 2, 1, 'unterminated heredoc "EOF2"'],
    ['FROM a\nCOPY a <<EOF\nx\nEOF\n', 2, 1, 'does not support a heredoc as the destination'],
    ['# escape=x\nFROM a\n', 1, 1, "invalid escape token 'x' does not match ` or \\"],
    ['# escape=`\n# escape=\\\nFROM a\n', 2, 1, 'only one escape parser directive can be used'],
    ['\n\n# only comments\n', 3, 1, 'file with no instructions'],
    ['', 1, 1, 'file with no instructions'],
    ['FROM a\nWORKDIR\n', 2, 1, 'WORKDIR requires exactly one argument'],
    ['FROM a\nVOLUME [""]\n', 2, 1, 'VOLUME specified can not be an empty string'],
  ])('%j → %i:%i %s', (text, line, column, message) => {
    const error = syntaxError(text);
    expect(error.line).toBe(line);
    expect(error.column).toBe(column);
    expect(error.detail).toContain(message);
    expect(error.message).toBe(`Dockerfile:${line}:${column}: ${error.detail}`);
  });

  it('formats the message like BuildKit', () => {
    expect(syntaxError('FROM alpine\nRUN x\nFORM y\n').message).toBe('Dockerfile:3:1: unknown instruction: FORM (did you mean FROM?)');
  });
});

describe('stage structure errors', () => {
  it.each([
    ['RUN echo\nFROM a\n', 1, 'no build stage in current context'],
    ['ARG A=1\n', undefined, 'dockerfile contains no stages to build'],
    ['FROM a AS x\nFROM b AS X\n', 2, 'duplicate stage name "x", first defined on line 1'],
  ])('%j', (text, line, message) => {
    let caught: unknown;
    try {
      parseDockerfile(text);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(DockerfileSemanticError);
    expect((caught as DockerfileSemanticError).line).toBe(line);
    expect((caught as DockerfileSemanticError).detail).toContain(message);
  });
});
