// `npm test`: build, then unit + integration tests (parallel workers), then end-to-end tests
// (one at a time: they start whole platforms). Extra arguments are passed to jest as filters.
// Needs PostgreSQL on 127.0.0.1:5432 and NATS on 127.0.0.1:4222 (`.ci/run` starts them if not).
import { spawnSync } from 'node:child_process';
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

if (run('npm', ['run', '--silent', 'build']) !== 0) {
  console.error('build failed');
  process.exit(1);
}

// PGlite loads its WebAssembly with dynamic import(), which jest's module loader needs this flag for.
const jestEnv = { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --experimental-vm-modules`.trim() };
const jest = join(root, 'node_modules', 'jest', 'bin', 'jest.js');
const stages = [
  { name: 'unit+integration', args: ['--selectProjects', 'unit', 'integration'] },
  // --forceExit: a child a test failed to stop must not hold CI until its time limit.
  { name: 'e2e', args: ['--selectProjects', 'e2e', '--runInBand', '--forceExit'] },
];

const totals = { passed: 0, failed: 0, skipped: 0 };
let failedStage = false;
for (const [index, stage] of stages.entries()) {
  const report = join(root, 'tmp', `jest-${index}.json`);
  const status = run(process.execPath, [jest, ...stage.args, '--json', `--outputFile=${report}`, '--passWithNoTests', ...filters], jestEnv);
  if (existsSync(report)) {
    const r = JSON.parse(readFileSync(report, 'utf8'));
    totals.passed += r.numPassedTests;
    totals.failed += r.numFailedTests + r.numRuntimeErrorTestSuites;
    totals.skipped += r.numPendingTests + r.numTodoTests;
  }
  if (status !== 0) failedStage = true;
}

console.log(`\ntests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(failedStage || totals.failed > 0 ? 1 : 0);
