import { posix } from 'node:path';
import { InvalidArgumentError } from '@muelle/contracts';
import type { Platform } from '@muelle/oci';
import { existsInRoot, type RootView } from './root-fs';

/** Docker's PATH for an image that sets none (containers and RUN steps alike). */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The environment with Docker's PATH first when the image sets none. */
export function withDefaultPath(env: readonly string[]): string[] {
  return env.some((e) => e.startsWith('PATH=')) ? [...env] : [`PATH=${DEFAULT_PATH}`, ...env];
}

/** `KEY=value` lists merged by key, later ones winning, in first-seen order (image Env, then the user's). */
export function mergeEnv(base: readonly string[], overrides: readonly string[]): string[] {
  const merged = new Map<string, string>();
  for (const entry of [...base, ...overrides]) {
    const eq = entry.indexOf('=');
    merged.set(eq === -1 ? entry : entry.slice(0, eq), entry);
  }
  return [...merged.values()];
}

/** An image config that names no platform was built for the one Docker assumes: linux/amd64 of old. */
export function platformOfConfig(config: { os?: string; architecture?: string; variant?: string }): Platform {
  return { os: config.os || 'linux', architecture: config.architecture || 'amd64', ...(config.variant ? { variant: config.variant } : {}) };
}

/**
 * Refuses at create time a command that is not in the image, where Docker fails only at start:
 * a path must exist in the root, a bare name in one of the image's PATH directories.
 */
export async function checkCommandExists(root: RootView, command: string, env: readonly string[]): Promise<void> {
  if (command.includes('/')) {
    if (!(await existsInRoot(root, command))) throw new InvalidArgumentError(`entrypoint ${command}: no such file in the image`);
    return;
  }
  const pathVar = env.find((e) => e.startsWith('PATH='))?.slice(5) ?? DEFAULT_PATH;
  for (const dir of pathVar.split(':')) {
    if (dir.startsWith('/') && (await existsInRoot(root, posix.join(dir, command)))) return;
  }
  throw new InvalidArgumentError(`entrypoint ${command}: not found in the image's PATH (${pathVar})`);
}
