import { runHostCommand } from '@muelle/isolation';
import type { FirewallBackendName } from './firewall';

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const TABLE = 'muelle_overlay';
const CHAIN = 'MUELLE-OVERLAY-IN';

function check(port: number, hosts: readonly string[]): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`overlay rules: refusing port ${JSON.stringify(port)}`);
  for (const h of hosts) if (!IPV4.test(h)) throw new Error(`overlay rules: refusing address ${JSON.stringify(h)}`);
}

/**
 * VXLAN datagrams are accepted only from registered hosts' underlay addresses: anyone else who
 * could send to the port could inject frames into any team's network (VXLAN carries no
 * authentication). One `nft -f` transaction replaces the table.
 */
export function overlayNftRules(port: number, hosts: readonly string[]): string {
  check(port, hosts);
  const allowed = hosts.length ? `ip saddr != { ${[...new Set(hosts)].join(', ')} } ` : '';
  return [
    `table inet ${TABLE} {}`,
    `delete table inet ${TABLE}`,
    `table inet ${TABLE} {`,
    `  chain input {`,
    // Before the host's own filter: a blanket accept elsewhere must not let a stranger in.
    `    type filter hook input priority filter - 5; policy accept;`,
    `    udp dport ${port} ${allowed}drop`,
    `  }`,
    `}`,
    '',
  ].join('\n');
}

/** The same for the iptables fallback (`iptables-restore --noflush`): a RETURN per host, then DROP. */
export function overlayIptablesRules(port: number, hosts: readonly string[]): string {
  check(port, hosts);
  return [
    '*filter',
    `:${CHAIN} - [0:0]`,
    `-F ${CHAIN}`,
    ...[...new Set(hosts)].map((h) => `-A ${CHAIN} -s ${h}/32 -p udp -m udp --dport ${port} -j RETURN`),
    `-A ${CHAIN} -p udp -m udp --dport ${port} -j DROP`,
    'COMMIT',
    '',
  ].join('\n');
}

/** Applies the VXLAN port's rule with the backend the bridges use. */
export async function applyOverlayFirewall(backend: FirewallBackendName, port: number, hosts: readonly string[]): Promise<void> {
  if (backend === 'nftables') {
    await runHostCommand('nft', ['-f', '-'], { input: overlayNftRules(port, hosts) });
    return;
  }
  await runHostCommand('iptables-restore', ['-w', '--noflush'], { input: overlayIptablesRules(port, hosts) });
  // First in INPUT, so our drop runs before anyone's blanket ACCEPT; `-C` fails when it is not there yet.
  const jumps = await runHostCommand('iptables', ['-w', '-C', 'INPUT', '-j', CHAIN]).then(() => true, () => false);
  if (!jumps) await runHostCommand('iptables', ['-w', '-I', 'INPUT', '1', '-j', CHAIN]);
}
