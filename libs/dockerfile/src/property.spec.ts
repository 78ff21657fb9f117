import fc from 'fast-check';
import { ArgEnvScope } from './arg-env-scope';
import { parseDockerignore } from './dockerignore';
import { DockerfileError } from './errors';
import { expand, expandWords } from './expand';
import { expandInstruction } from './expand-instruction';
import { parseDockerfile } from './parser';
import { resolveStages } from './stages';

/** Runs `action`; anything thrown must be one of our typed errors. */
function onlyTypedErrors(action: () => unknown): boolean {
  try {
    action();
  } catch (error) {
    if (error instanceof DockerfileError) return true;
    throw error;
  }
  return true;
}

// Dockerfile-shaped noise: keywords, flags, quotes, escapes, heredocs, variables, JSON brackets.
const token = fc.oneof(
  fc.constantFrom(
    'FROM', 'from', 'RUN', 'CMD', 'ENTRYPOINT', 'SHELL', 'COPY', 'ADD', 'ENV', 'LABEL', 'ARG', 'WORKDIR', 'EXPOSE',
    'USER', 'VOLUME', 'STOPSIGNAL', 'HEALTHCHECK', 'ONBUILD', 'MAINTAINER', 'NONE', 'AS', 'alpine', 'scratch', 'x',
    '--from=', '--from=0', '--from=x', '--mount=type=cache,target=/c', '--mount=from=x,target=/y', '--platform=$P',
    '--interval=', '--retries=', '--link', '--chown=', '--network=none', '--', '<<EOF', '<<-EOF', "<<'EOF'", 'EOF',
    '\tEOF', '# escape=`', '# syntax=x', '#', '\\', '`', '"', "'", '$', '${', '}', '${A:-', '${A:?', '${A#', '${A/',
    '[', ']', '["a"', ', ', '=', 'A=', 'a=b', '80/tcp', '1-2', 'SIGTERM', '\ufeff', '\r', ' ', '  ', '\t',
  ),
  fc.string({ maxLength: 4 }),
);
const line = fc.array(token, { maxLength: 8 }).map((tokens) => tokens.join(' '));
// Half the cases start with a valid FROM so that the later stages (resolution, expansion) get exercised.
const dockerfile = fc
  .tuple(fc.boolean(), fc.array(line, { maxLength: 12 }))
  .map(([withFrom, lines]) => (withFrom ? ['FROM alpine AS x', ...lines] : lines).join('\n'));

describe('random input only ever fails with typed errors', () => {
  it('parseDockerfile, resolveStages and instruction expansion', () => {
    fc.assert(
      fc.property(dockerfile, fc.dictionary(fc.constantFrom('A', 'P', 'x', 'HTTP_PROXY'), fc.string({ maxLength: 6 })), (text, buildArgs) =>
        onlyTypedErrors(() => {
          const parsed = parseDockerfile(text);
          const build = resolveStages(parsed, { buildArgs });
          for (const stage of build.buildOrder) {
            const scope = new ArgEnvScope({ buildArgs, globalArgValues: build.globalArgValues, escapeChar: parsed.directives.escape });
            for (const instruction of stage.stage.instructions) {
              if (instruction.kind === 'ARG') scope.applyArg(instruction);
              else if (instruction.kind === 'ENV') scope.applyEnv(instruction);
              else expandInstruction(instruction, scope.lookup, parsed.directives.escape);
            }
          }
        }),
      ),
      { numRuns: 1500 },
    );
  });

  it('expand and expandWords on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.constantFrom<'\\' | '`'>('\\', '`'), (word, escapeChar) =>
        onlyTypedErrors(() => {
          const env = { A: 'a b', EMPTY: '' };
          const value = expand(word, env, { escapeChar });
          expect(typeof value).toBe('string');
          expandWords(word, env, { escapeChar });
        }),
      ),
      { numRuns: 3000 },
    );
  });

  it('expansion of words without special characters is the identity', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9_./:@+-]*$/), (word) => expand(word, { A: 'x' }) === word),
    );
  });

  it('parseDockerignore and matching on arbitrary input', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ maxLength: 12 }), { maxLength: 6 }),
        fc.array(fc.stringMatching(/^[a-z*?.[\]!/\\]{0,10}$/), { maxLength: 5 }),
        (lines, paths) =>
          onlyTypedErrors(() => {
            const matcher = parseDockerignore(lines.join('\n'));
            for (const path of paths) {
              matcher.isExcluded(path);
              matcher.shouldDescend(path);
            }
          }),
      ),
      { numRuns: 1500 },
    );
  });

  it('shouldDescend never prunes a directory that holds an included file', () => {
    const segment = fc.constantFrom('a', 'b', 'c', 'd.md', 'x.go');
    const pattern = fc.tuple(fc.boolean(), fc.array(fc.constantFrom('a', 'b', '*', '**', '?', 'd.md', '*.go', 'c'), { minLength: 1, maxLength: 3 }));
    fc.assert(
      fc.property(fc.array(pattern, { minLength: 1, maxLength: 4 }), fc.array(segment, { minLength: 2, maxLength: 4 }), (patterns, pathSegments) => {
        const text = patterns.map(([negate, parts]) => `${negate ? '!' : ''}${parts.join('/')}`).join('\n');
        const matcher = parseDockerignore(text);
        const file = pathSegments.join('/');
        if (matcher.isExcluded(file)) return true;
        // Every ancestor directory of an included file must be entered by a walker.
        for (let depth = 1; depth < pathSegments.length; depth++) {
          if (!matcher.shouldDescend(pathSegments.slice(0, depth).join('/'))) return false;
        }
        return true;
      }),
      { numRuns: 2000 },
    );
  });
});
