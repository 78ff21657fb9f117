// Helpers of the network benchmarks: the built agent's modules, bounded numeric flags, and commands
// in the network namespaces a benchmark makes.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const require = createRequire(join(repo, 'dist', 'package.json'));

/** A module of the build (`npm run build`), by its path under dist/. */
export const built = (path) => require(join(repo, 'dist', path));

/** `--name N` from the command line, between 1 and `max`. */
export const arg = (name, fallback, max) => {
  const i = process.argv.indexOf(name);
  return Math.min(Math.max(Number(i > 0 ? process.argv[i + 1] : fallback) || fallback, 1), max);
};

/** Runs a command; its stdout, or an error with its stderr. */
export const sh = (args, input) => {
  const r = spawnSync(args[0], args.slice(1), { encoding: 'utf8', input });
  if (r.status !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};

/** The same inside network namespace `name`. */
export const ns = (name, args, input) => sh(['ip', 'netns', 'exec', name, ...args], input);
