import { DockerfileSemanticError, ExpansionError } from './errors';
import { parseDockerfile } from './parser';
import { resolveStages, type ResolveOptions } from './stages';

const resolve = (text: string, options: ResolveOptions = {}) => resolveStages(parseDockerfile(text), options);

function semanticError(text: string, options: ResolveOptions = {}): DockerfileSemanticError {
  try {
    resolve(text, options);
  } catch (error) {
    if (error instanceof DockerfileSemanticError) return error;
    throw error;
  }
  throw new Error('expected a DockerfileSemanticError');
}

const PIPELINE = `
FROM golang:1.22 AS deps
RUN go mod download

FROM deps AS build
RUN go build -o /app

FROM alpine AS unrelated
RUN echo never needed for the default target

FROM build AS test
RUN go test ./...

FROM gcr.io/distroless/static AS final
COPY --from=build /app /app
`;

describe('resolveStages: FROM and ARGs', () => {
  it('expands FROM with global ARG defaults, then with build args', () => {
    const text = 'ARG REGISTRY\nARG TAG=3.20\nFROM ${REGISTRY:-docker.io}/library/alpine:$TAG\n';
    expect(resolve(text).stages[0].baseName).toBe('docker.io/library/alpine:3.20');
    expect(resolve(text, { buildArgs: { REGISTRY: 'registry.local', TAG: 'edge' } }).stages[0].baseName).toBe(
      'registry.local/library/alpine:edge',
    );
  });

  it('expands a global default with earlier global ARGs', () => {
    const build = resolve('ARG A=1\nARG B=${A}.0\nFROM x:$B\n');
    expect(build.stages[0].baseName).toBe('x:1.0');
    expect(build.globalArgValues.get('B')).toBe('1.0');
  });

  it('makes platform ARGs available to FROM without declaration', () => {
    const text = 'FROM --platform=$BUILDPLATFORM golang AS build\nFROM --platform=$TARGETPLATFORM alpine:$TARGETARCH\n';
    const build = resolve(text, { targetPlatform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
    expect(build.stages[0].platform).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(build.stages[1].platform).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(build.stages[1].baseName).toBe('alpine:arm64');
    expect(build.globalArgValues.get('TARGETPLATFORM')).toBe('linux/arm64/v8');
  });

  it('rejects a base name that expands to nothing, at its line', () => {
    const error = semanticError('ARG BASE\nFROM $BASE\n');
    expect(error.line).toBe(2);
    expect(error.detail).toBe('base name ($BASE) should not be blank');
  });

  it('rejects a platform that expands to nothing or does not parse', () => {
    expect(semanticError('FROM --platform=$NOPE a\n').detail).toBe('empty platform value from expression $NOPE');
    expect(semanticError('FROM --platform=linux/amd64/v8/extra a\n').detail).toBe('failed to parse platform linux/amd64/v8/extra');
  });

  it('reports expansion errors in FROM with the line', () => {
    expect(() => resolve('ARG A\n\nFROM ${A:?set-A}\n')).toThrow(ExpansionError);
    expect(() => resolve('ARG A\n\nFROM ${A:?set-A}\n')).toThrow('Dockerfile:3: failed to process "${A:?set-A}": A: set-A');
  });

  it('classifies bases: scratch, earlier stage, image (a later stage name is an image)', () => {
    const build = resolve('FROM later AS first\nFROM scratch AS later\nFROM first\n');
    expect(build.stages.map((s) => s.base)).toEqual([
      { type: 'image', reference: 'later' },
      { type: 'scratch' },
      { type: 'stage', stageIndex: 0 },
    ]);
    expect(build.stages[2].displayName).toBe('stage-2');
  });
});

describe('resolveStages: dependencies and target', () => {
  it('builds the default target (last stage) with only what it needs, in order', () => {
    const build = resolve(PIPELINE);
    expect(build.target.name).toBe('final');
    expect(build.buildOrder.map((s) => s.name)).toEqual(['deps', 'build', 'final']);
    expect(build.stages[4].dependsOn).toEqual([{ stageIndex: 1, via: 'COPY --from', line: 15 }]);
    expect(build.stages[1].dependsOn).toEqual([{ stageIndex: 0, via: 'FROM', line: 5 }]);
  });

  it('prunes to the --target stage and its dependencies', () => {
    expect(resolve(PIPELINE, { target: 'test' }).buildOrder.map((s) => s.name)).toEqual(['deps', 'build', 'test']);
    expect(resolve(PIPELINE, { target: 'unrelated' }).buildOrder.map((s) => s.name)).toEqual(['unrelated']);
    expect(resolve(PIPELINE, { target: 'DEPS' }).buildOrder.map((s) => s.name)).toEqual(['deps']);
  });

  it('rejects an unknown target, listing the stages', () => {
    const error = semanticError(PIPELINE, { target: 'deploy' });
    expect(error.line).toBeUndefined();
    expect(error.detail).toBe('target stage "deploy" could not be found (stages: deps, build, unrelated, test, final)');
  });

  it('follows COPY --from by index and treats unknown names as images', () => {
    const build = resolve('FROM a\nFROM b\nCOPY --from=0 /x /x\nCOPY --from=nginx:latest /etc/nginx /etc/nginx\n');
    expect(build.stages[1].dependsOn).toEqual([{ stageIndex: 0, via: 'COPY --from', line: 3 }]);
    expect(build.stages[1].externalImages).toEqual([{ reference: 'nginx:latest', via: 'COPY --from', line: 4 }]);
    expect(build.buildOrder.map((s) => s.index)).toEqual([0, 1]);
  });

  it('follows RUN --mount=from=<stage>', () => {
    const build = resolve('FROM a AS tools\nFROM b AS other\nFROM c\nRUN --mount=type=bind,from=tools,target=/t ls /t\n');
    expect(build.buildOrder.map((s) => s.displayName)).toEqual(['tools', 'stage-2']);
    expect(build.stages[2].dependsOn).toEqual([{ stageIndex: 0, via: 'RUN --mount', line: 4 }]);
  });

  it('follows COPY --from inside ONBUILD triggers of a base stage', () => {
    const build = resolve('FROM a AS assets\nFROM b AS base\nONBUILD COPY --from=assets /a /a\nFROM base\n');
    expect(build.stages[2].dependsOn).toEqual([
      { stageIndex: 1, via: 'FROM', line: 4 },
      { stageIndex: 0, via: 'ONBUILD', line: 4 },
    ]);
    expect(build.buildOrder.map((s) => s.index)).toEqual([0, 1, 2]);
  });

  it('rejects an out-of-range stage index at its line', () => {
    const error = semanticError('FROM a\nFROM b\n\nCOPY --from=5 /x /x\n');
    expect(error.line).toBe(4);
    expect(error.detail).toBe('invalid stage index 5 in --from=5');
  });

  it('detects cycles at the line of the closing reference', () => {
    const error = semanticError('FROM a AS one\nCOPY --from=two /x /x\nFROM b AS two\nCOPY --from=one /y /y\n');
    expect(error.detail).toBe('circular dependency detected on stage: one');
    expect(error.line).toBe(4);
    expect(semanticError('FROM a AS self\nCOPY --from=self /x /y\n').detail).toBe('circular dependency detected on stage: self');
  });

  it('rejects copying from a stage defined later', () => {
    const error = semanticError('FROM a AS first\nCOPY --from=second /x /x\nFROM b AS second\n', { target: 'first' });
    expect(error.line).toBe(2);
    expect(error.detail).toBe('cannot copy from stage "second", it needs to be defined before current stage "first"');
  });

  it('rejects variables in --from as BuildKit does', () => {
    const error = semanticError('ARG S=a\nFROM a AS a\nFROM b\nCOPY --from=$S /x /x\n');
    expect(error.line).toBe(4);
    expect(error.detail).toContain('variable expansion is not supported for --from');
  });

  it('reports build args that no built stage declares', () => {
    const text = 'ARG GLOBAL\nFROM a AS one\nARG ONE\nFROM b AS two\nARG TWO\n';
    const build = resolve(text, {
      target: 'two',
      buildArgs: { GLOBAL: '1', ONE: '1', TWO: '1', TYPO: '1', HTTP_PROXY: 'p', TARGETARCH: 'arm64', SOURCE_DATE_EPOCH: '0' },
    });
    expect(build.unusedBuildArgs).toEqual(['ONE', 'TYPO']);
  });
});
