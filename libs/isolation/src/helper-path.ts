import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/** Env override for the helper binary, e.g. in packaged deployments. */
export const HELPER_PATH_ENV = 'MUELLE_ISOLATE_HELPER';

/**
 * Location of the native helper: $MUELLE_ISOLATE_HELPER, else libs/isolation/native/build/muelle-isolate
 * (built by `make -C libs/isolation/native`, which the postinstall script runs).
 */
export function helperPath(): string {
  const fromEnv = process.env[HELPER_PATH_ENV];
  if (fromEnv) return fromEnv;
  // Works from the sources (libs/isolation/src) and from the build output (dist/libs/isolation/src).
  const candidates = [
    resolve(__dirname, '..', 'native', 'build', 'muelle-isolate'),
    resolve(__dirname, '..', '..', '..', '..', 'libs', 'isolation', 'native', 'build', 'muelle-isolate'),
  ];
  return candidates.find((c) => existsSync(c)) ?? candidates[0];
}
