import { writeFile } from 'node:fs/promises';
import { runHostCommand } from '@muelle/isolation';
import { iptablesJumps, iptablesRestore, NetworkRuleModel, nftRuleset, nftTeardown } from './rules';

export type FirewallBackendName = 'nftables' | 'iptables';

/** Applies a whole rule model at once; `remove` takes this bridge's rules away. */
export interface FirewallBackend {
  readonly name: FirewallBackendName;
  apply(model: NetworkRuleModel): Promise<void>;
  remove(bridge: string): Promise<void>;
}

/** nftables: one `nft -f -` transaction per change (tables deleted and recreated atomically). */
export class NftBackend implements FirewallBackend {
  readonly name = 'nftables';

  async apply(model: NetworkRuleModel): Promise<void> {
    await runHostCommand('nft', ['-f', '-'], { input: nftRuleset(model) });
  }

  async remove(bridge: string): Promise<void> {
    await runHostCommand('nft', ['-f', '-'], { input: nftTeardown(bridge) });
  }
}

/** iptables: our own chains, refilled with `iptables-restore --noflush` (one commit per table). */
export class IptablesBackend implements FirewallBackend {
  readonly name = 'iptables';
  private jumpsReady = false;

  async apply(model: NetworkRuleModel): Promise<void> {
    if (!this.jumpsReady) {
      // Bridged frames between two containers reach iptables only through br_netfilter.
      await runHostCommand('modprobe', ['br_netfilter']).catch(() => undefined); // built in, or already loaded: the sysctl below decides
      await writeFile('/proc/sys/net/bridge/bridge-nf-call-iptables', '1').catch((error: Error) => {
        throw new Error(`iptables backend needs br_netfilter (net.bridge.bridge-nf-call-iptables): ${error.message}`);
      });
    }
    const { filter, nat } = iptablesRestore(model);
    await runHostCommand('iptables-restore', ['-w', '--noflush'], { input: filter });
    await runHostCommand('iptables-restore', ['-w', '--noflush'], { input: nat });
    if (this.jumpsReady) return;
    for (const [table, builtin, ours] of iptablesJumps(model.bridge)) {
      // First in the built-in chain, so our drops run before anyone's blanket ACCEPT.
      await runHostCommand('iptables', ['-w', '-t', table, '-D', builtin, '-j', ours]).catch(() => undefined); // not there yet: nothing to move
      await runHostCommand('iptables', ['-w', '-t', table, '-I', builtin, '1', '-j', ours]);
    }
    this.jumpsReady = true;
  }

  async remove(bridge: string): Promise<void> {
    for (const [table, builtin, ours] of iptablesJumps(bridge)) {
      await runHostCommand('iptables', ['-w', '-t', table, '-D', builtin, '-j', ours]).catch(() => undefined); // absent: nothing to remove
      await runHostCommand('iptables', ['-w', '-t', table, '-F', ours]).catch(() => undefined); // absent chain
      await runHostCommand('iptables', ['-w', '-t', table, '-X', ours]).catch(() => undefined); // absent chain
    }
    this.jumpsReady = false;
  }
}

const works = (command: string, args: string[]) => runHostCommand(command, args).then(() => true, () => false);

/**
 * Chosen once at start: nftables when `nft` runs and can list the ruleset, else iptables.
 * `preferred` forces one (MUELLE_NETWORK_FIREWALL); a forced backend that is missing is an error.
 */
export async function chooseFirewall(preferred: 'auto' | FirewallBackendName = 'auto'): Promise<FirewallBackend> {
  const nft = preferred !== 'iptables' && (await works('nft', ['list', 'tables']));
  if (nft) return new NftBackend();
  if (preferred === 'nftables') throw new Error('MUELLE_NETWORK_FIREWALL=nftables but `nft list tables` fails (install the nftables package)');
  if (await works('iptables', ['-w', '-L', '-n'])) return new IptablesBackend();
  throw new Error('neither nft nor iptables works on this host: container network rules cannot be applied');
}
