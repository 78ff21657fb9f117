import { realpath } from 'node:fs/promises';
import { normalize } from 'node:path';
import { InvalidArgumentError } from '@muelle/contracts';

/**
 * Checks a host path a container wants bind-mounted. The api decided the path against the team's
 * policy (allowed prefixes) as written, so for a team's container every component must be what it
 * says: a symlink under an allowed prefix (which a container with a read-write grant can create)
 * would otherwise lead the mount anywhere on the host. Containers without a team are the admins'.
 */
export async function checkBindSource(source: string, teamId: string | null): Promise<void> {
  if (!source.startsWith('/')) throw new InvalidArgumentError(`bind source ${source} must be an absolute path`);
  let real: string;
  try {
    real = await realpath(source);
  } catch {
    throw new InvalidArgumentError(`bind source path does not exist: ${source}`);
  }
  const written = normalize(source).replace(/(.)\/+$/, '$1');
  if (teamId !== null && real !== written) {
    throw new InvalidArgumentError(`bind source ${source} goes through a symbolic link (to ${real}); a team's bind mounts must name the real path`);
  }
}
