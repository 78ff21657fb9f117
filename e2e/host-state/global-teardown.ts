import { removeLeftovers, type HostNetworkState } from './leftovers';

/** Removes the bridges, tables, chains and namespaces the e2e run added and left (see leftovers.ts). */
export default function globalTeardown(): void {
  const before = (globalThis as { muelleHostStateBefore?: HostNetworkState }).muelleHostStateBefore;
  if (!before) return; // the setup did not run (no e2e test was selected)
  const removed = removeLeftovers(before);
  if (removed.length) console.log(`e2e teardown removed what the suites left on the host: ${removed.join(', ')}`);
}
