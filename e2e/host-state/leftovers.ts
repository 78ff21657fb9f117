import { execFileSync } from 'node:child_process';

/**
 * What the e2e suites may leave on the host: the agents they start make bridges, VXLAN devices,
 * nftables tables, iptables chains and network namespaces, and keep them when stopped (on purpose:
 * published ports keep serving while an agent restarts). A suite that fails or is stopped midway
 * leaves them behind, and a later run's agent then finds a subnet taken. The e2e project's global
 * setup notes what was there before the run; its teardown removes what the run added.
 */
export interface HostNetworkState {
  links: string[];
  nftTables: string[];
  iptablesChains: string[];
  namespaces: string[];
}

const output = (command: string, args: string[]): string => {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return ''; // the tool is missing or the kernel lacks the feature: nothing of that kind to clean
  }
};

/** Bridges and VXLAN devices, by name (veths go with their namespace or bridge). */
const links = (): string[] =>
  ['bridge', 'vxlan'].flatMap((type) => [...output('ip', ['-o', 'link', 'show', 'type', type]).matchAll(/^\d+: ([^:@\s]+)/gm)].map((m) => m[1]!));

/** Muelle's nftables tables as `family name`. */
const nftTables = (): string[] =>
  [...output('nft', ['list', 'tables']).matchAll(/^table (\S+) (muelle\S*)$/gm)].map((m) => `${m[1]} ${m[2]}`);

/** Muelle's iptables chains as `table chain`. */
function iptablesChains(): string[] {
  const chains: string[] = [];
  let table = '';
  for (const line of output('iptables-save', []).split('\n')) {
    if (line.startsWith('*')) table = line.slice(1);
    const chain = /^:(MUELLE\S*) /.exec(line)?.[1];
    if (chain) chains.push(`${table} ${chain}`);
  }
  return chains;
}

const namespaces = (): string[] => [...output('ip', ['netns', 'list']).matchAll(/^(\S+)/gm)].map((m) => m[1]!);

/** iptables-save's words: double-quoted ones (comments) kept whole. */
const words = (rule: string): string[] => [...rule.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);

export function hostNetworkState(): HostNetworkState {
  return { links: links(), nftTables: nftTables(), iptablesChains: iptablesChains(), namespaces: namespaces() };
}

const run = (command: string, args: string[]): void => {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
  } catch {
    // Already gone (removed with its namespace or bridge) or still referenced: best effort, reported below.
  }
};

/** Removes what exists now and did not in `before`; returns what it removed. */
export function removeLeftovers(before: HostNetworkState): string[] {
  const after = hostNetworkState();
  const added = <T>(now: T[], then: T[]) => now.filter((x) => !then.includes(x));
  const removed: string[] = [];
  const remove = (what: string, command: string, args: string[]) => {
    run(command, args);
    removed.push(what);
  };
  for (const name of added(after.namespaces, before.namespaces)) remove(`netns ${name}`, 'ip', ['netns', 'del', name]);
  for (const name of added(after.links, before.links)) remove(`link ${name}`, 'ip', ['link', 'del', name]);
  for (const table of added(after.nftTables, before.nftTables)) remove(`nft table ${table}`, 'nft', ['delete', 'table', ...table.split(' ')]);
  const chains = added(after.iptablesChains, before.iptablesChains);
  if (chains.length) {
    // Jumps into the chains first (each rule that names one, as iptables-save prints it), then the chains.
    let table = '';
    for (const line of output('iptables-save', []).split('\n')) {
      if (line.startsWith('*')) table = line.slice(1);
      if (line.startsWith('-A ') && chains.some((c) => c === `${table} ${/-j (\S+)/.exec(line)?.[1]}`) && !chains.includes(`${table} ${line.split(' ')[1]}`))
        run('iptables', ['-w', '-t', table, '-D', ...words(line.slice(3))]);
    }
    for (const chain of chains) run('iptables', ['-w', '-t', chain.split(' ')[0]!, '-F', chain.split(' ')[1]!]);
    for (const chain of chains) remove(`iptables ${chain}`, 'iptables', ['-w', '-t', chain.split(' ')[0]!, '-X', chain.split(' ')[1]!]);
  }
  return removed;
}
