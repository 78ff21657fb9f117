import { hostNetworkState } from './leftovers';

/** Notes the host's network state before the e2e run (see leftovers.ts); the teardown reads it. */
export default function globalSetup(): void {
  (globalThis as { muelleHostStateBefore?: unknown }).muelleHostStateBefore = hostNetworkState();
}
