// `npm test`: build (unless MUELLE_TEST_BUILT=1), then unit and integration tests side by side (two jest processes; integration
// tests mostly wait on servers, so they get two workers even on two cores, as they always had on
// bigger machines; three saved ~30 s on CI's 2-core machine, but the kernel tests' short network
// timeouts then failed under the load),
// then end-to-end tests (one at a time in each of two runs side by side: they start whole platforms). Extra arguments are passed to jest as filters.
// Needs PostgreSQL on 127.0.0.1:5432 and NATS on 127.0.0.1:4222 (`.ci/run` starts them if not).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const filters = process.argv.slice(2);
mkdirSync(join(root, 'tmp'), { recursive: true });

function run(command, args, env = {}) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  return result.status ?? 1;
}

// MUELLE_TEST_BUILT=1: the caller has just built (CI builds side by side with lint and type-check).
if (process.env.MUELLE_TEST_BUILT === '1') {
  if (!existsSync(join(root, 'dist', 'apps', 'all-in-one', 'src', 'main.js'))) {
    console.error('MUELLE_TEST_BUILT=1 but dist/ has no build: run `npm run build` first');
    process.exit(1);
  }
} else if (run('npm', ['run', '--silent', 'build']) !== 0) {
  console.error('build failed');
  process.exit(1);
}

// PGlite loads its WebAssembly with dynamic import(), which jest's module loader needs this flag for.
const jestEnv = { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --experimental-vm-modules`.trim() };
const jest = join(root, 'node_modules', 'jest', 'bin', 'jest.js');
// Each group runs its stages at the same time; groups run one after the other.
const groups = [
  [
    { name: 'unit', args: ['--selectProjects', 'unit'] },
    { name: 'integration', args: ['--selectProjects', 'integration', '--maxWorkers=2'] },
  ],
  // --forceExit: a child a test failed to stop must not hold CI until its time limit. Each run is
  // in band (its suites start whole platforms); the two runs go side by side, as the suites of the
  // second make no containers and leave the host's network alone (jest.config.js).
  [
    { name: 'e2e', args: ['--selectProjects', 'e2e', '--runInBand', '--forceExit'] },
    { name: 'e2e-no-host-network', args: ['--selectProjects', 'e2e-no-host-network', '--runInBand', '--forceExit'] },
  ],
];

function runAsync(command, args, env) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
    child.on('exit', (code) => resolve(code ?? 1));
  });
}

const totals = { passed: 0, failed: 0, skipped: 0 };
let failedStage = false;
for (const group of groups) {
  const statuses = await Promise.all(
    group.map((stage) => {
      const report = join(root, 'tmp', `jest-${stage.name}.json`);
      return runAsync(process.execPath, [jest, ...stage.args, '--json', `--outputFile=${report}`, '--passWithNoTests', ...filters], jestEnv).then((status) => ({ status, report }));
    }),
  );
  for (const { status, report } of statuses) {
    if (existsSync(report)) {
      const r = JSON.parse(readFileSync(report, 'utf8'));
      totals.passed += r.numPassedTests;
      totals.failed += r.numFailedTests + r.numRuntimeErrorTestSuites;
      totals.skipped += r.numPendingTests + r.numTodoTests;
    }
    if (status !== 0) failedStage = true;
  }
}

console.log(`\ntests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(failedStage || totals.failed > 0 ? 1 : 0);
