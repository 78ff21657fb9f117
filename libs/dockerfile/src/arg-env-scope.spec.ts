import { ArgEnvScope } from './arg-env-scope';
import { ExpansionError } from './errors';
import { parseDockerfile } from './parser';
import { resolveStages } from './stages';
import type { ArgInstruction, EnvInstruction, Instruction } from './types';

/** Walks one stage the way the builder will and returns what each `RUN echo $X` would be given. */
function walkStage(text: string, buildArgs: Record<string, string> = {}, baseImageEnv: string[] = []) {
  const parsed = parseDockerfile(text);
  const build = resolveStages(parsed, { buildArgs });
  const scope = new ArgEnvScope({ buildArgs, globalArgValues: build.globalArgValues, baseImageEnv });
  const seen: Array<string | undefined> = [];
  for (const instruction of parsed.stages[parsed.stages.length - 1].instructions as Instruction[]) {
    if (instruction.kind === 'ARG') scope.applyArg(instruction);
    if (instruction.kind === 'ENV') scope.applyEnv(instruction);
    if (instruction.kind === 'RUN' && instruction.command.form === 'shell') {
      const name = /\$(\w+)/.exec(instruction.command.command)?.[1] ?? '';
      seen.push(scope.lookup(name));
    }
  }
  return { scope, seen, build };
}

describe('ArgEnvScope', () => {
  it('makes an ARG visible only after its declaration', () => {
    const { seen } = walkStage('FROM a\nRUN echo $V\nARG V=1\nRUN echo $V\n');
    expect(seen).toEqual([undefined, '1']);
  });

  it('lets a build arg override the default of a declared ARG only', () => {
    const { seen, scope } = walkStage('FROM a\nRUN echo $V\nARG V=default\nRUN echo $V\n', { V: 'cli', OTHER: 'x' });
    expect(seen).toEqual([undefined, 'cli']);
    expect(scope.lookup('OTHER')).toBeUndefined();
    expect(scope.consumedBuildArgs()).toEqual(['V']);
  });

  it('needs a global ARG to be re-declared inside the stage, then inherits its value', () => {
    const text = 'ARG VERSION=1.2\nFROM a:$VERSION\nRUN echo $VERSION\nARG VERSION\nRUN echo $VERSION\n';
    expect(walkStage(text).seen).toEqual([undefined, '1.2']);
    expect(walkStage(text, { VERSION: '2.0' }).seen).toEqual([undefined, '2.0']);
  });

  it('gives a stage default precedence over the global value', () => {
    expect(walkStage('ARG V=global\nFROM a\nARG V=local\nRUN echo $V\n').seen).toEqual(['local']);
  });

  it('leaves an ARG without default, build arg or global value unset', () => {
    const { seen, scope } = walkStage('FROM a\nARG V\nRUN echo $V\n');
    expect(seen).toEqual([undefined]);
    expect(scope.declaredArgs()).toEqual([{ name: 'V', value: undefined }]);
    expect(scope.expand('${V:-some_user}')).toBe('some_user');
  });

  it('lets ENV override an ARG of the same name, whichever comes first', () => {
    expect(walkStage('FROM a\nARG V=arg\nENV V=env\nRUN echo $V\n', { V: 'cli' }).seen).toEqual(['env']);
    expect(walkStage('FROM a\nENV V=env\nARG V=arg\nRUN echo $V\n', { V: 'cli' }).seen).toEqual(['env']);
  });

  it('expands all values of one ENV before setting any (ENV a=b c=$a sees the old a)', () => {
    const { scope } = walkStage('FROM a\nENV abc=hello\nENV abc=bye def=$abc\nENV ghi=$abc\n');
    expect(scope.lookup('def')).toBe('hello');
    expect(scope.lookup('ghi')).toBe('bye');
  });

  it('expands ARG defaults with the variables declared so far', () => {
    const { scope } = walkStage('FROM a\nARG A=x\nENV E=y\nARG B=${A}-${E}-${C:-none}\n');
    expect(scope.lookup('B')).toBe('x-y-none');
  });

  it('offers platform ARGs once declared, with linux/amd64 defaults', () => {
    const { scope } = walkStage('FROM a\nARG TARGETPLATFORM TARGETARCH BUILDOS\n');
    expect(scope.declaredArgs()).toEqual([
      { name: 'TARGETPLATFORM', value: 'linux/amd64' },
      { name: 'TARGETARCH', value: 'amd64' },
      { name: 'BUILDOS', value: 'linux' },
    ]);
  });

  it('builds the RUN environment from image ENV and unshadowed ARG values', () => {
    const { scope } = walkStage('FROM a\nARG A=1 UNSET PATH=/arg\nENV B=2\n', {}, ['PATH=/usr/bin', 'HOME=/root']);
    expect(scope.imageEnv()).toEqual(['PATH=/usr/bin', 'HOME=/root', 'B=2']);
    expect(scope.runEnv()).toEqual(['PATH=/usr/bin', 'HOME=/root', 'B=2', 'A=1']);
    expect(scope.lookup('PATH')).toBe('/usr/bin');
  });

  it('replaces base image ENV in place', () => {
    const scope = new ArgEnvScope({ baseImageEnv: ['PATH=/bin', 'LANG=C'] });
    scope.setEnv('PATH', '/opt/bin:/bin');
    expect(scope.imageEnv()).toEqual(['PATH=/opt/bin:/bin', 'LANG=C']);
  });

  it('carries ENV and declared ARGs into a child stage built FROM it', () => {
    const parent = new ArgEnvScope({ buildArgs: { V: 'cli' } });
    parent.declareArg('V', 'x');
    parent.setEnv('E', 'e');
    const child = parent.inheritForChildStage();
    child.setEnv('F', 'f');
    expect(child.lookup('V')).toBe('cli');
    expect(child.lookup('E')).toBe('e');
    expect(parent.lookup('F')).toBeUndefined();
  });

  it('passes proxy build args to RUN without a declaration', () => {
    const scope = new ArgEnvScope({ buildArgs: { HTTP_PROXY: 'http://proxy:3128', no_proxy: 'localhost', OTHER: 'x' } });
    expect(scope.proxyEnv()).toEqual({ HTTP_PROXY: 'http://proxy:3128', no_proxy: 'localhost' });
    expect(scope.lookup('HTTP_PROXY')).toBeUndefined();
    expect(scope.runEnv()).toEqual([]);
  });

  it('locates expansion errors at the instruction line', () => {
    const parsed = parseDockerfile('FROM a\nENV A=${NOPE:?required}\n');
    const env = parsed.stages[0].instructions[0] as EnvInstruction;
    const scope = new ArgEnvScope();
    expect(() => scope.applyEnv(env)).toThrow(ExpansionError);
    expect(() => scope.applyEnv(env)).toThrow('Dockerfile:2: failed to process "${NOPE:?required}": NOPE: required');
  });

  it('uses the escape directive when expanding', () => {
    const parsed = parseDockerfile('# escape=`\nFROM a\nARG P=c:\\dir\\`$x\n');
    const scope = new ArgEnvScope({ escapeChar: parsed.directives.escape });
    scope.applyArg(parsed.stages[0].instructions[0] as ArgInstruction);
    expect(scope.lookup('P')).toBe('c:\\dir\\$x');
  });
});
