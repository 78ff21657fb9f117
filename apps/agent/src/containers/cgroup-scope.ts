import { createHash } from 'node:crypto';
import { resolve } from 'node:path';

/**
 * The cgroup parent of one agent: `muelle-agent/<hostId>-<hash of its data dir>`.
 *
 * At startup an agent destroys the cgroups it has no record of (leftovers of crashed creates).
 * With one shared `muelle/` parent, that killed the containers of every other agent and of the
 * builder on the same machine (seen as a re-adopted container found `exited`). The data dir is
 * what owns the records, so it also names the scope: the same agent finds its cgroups again after
 * a restart, and two agents never see each other's. The tree is not `muelle/` because agents of
 * earlier versions still clean up everything below `muelle/` when they start.
 */
export function cgroupParentFor(hostId: string, dataDir: string): string {
  const digest = createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 8);
  return `muelle-agent/${hostId}-${digest}`;
}
