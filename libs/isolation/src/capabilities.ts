import { InvalidSpecError } from './errors';
import { DOCKER_DEFAULT_CAPABILITIES, type CapabilityName } from './spec';

/** Every capability the helper knows (CAP_CHOWN = 0 … CAP_CHECKPOINT_RESTORE = 40), in kernel order. */
export const ALL_CAPABILITIES: readonly CapabilityName[] = [
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP',
  'LINUX_IMMUTABLE', 'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER',
  'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE',
  'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE', 'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP',
  'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ', 'PERFMON', 'BPF',
  'CHECKPOINT_RESTORE',
];

function normalize(name: string): CapabilityName | 'ALL' {
  const bare = name.toUpperCase().replace(/^CAP_/, '');
  if (bare === 'ALL') return 'ALL';
  if (!(ALL_CAPABILITIES as readonly string[]).includes(bare)) throw new InvalidSpecError(`unknown capability "${name}"`);
  return bare as CapabilityName;
}

/**
 * `--cap-add` / `--cap-drop` applied to Docker's default set, with Docker's precedence: `ALL` in
 * the add list means every capability except the dropped ones; `ALL` in the drop list means only
 * the added ones; otherwise drop from the defaults, then add.
 */
export function effectiveCapabilities(capAdd: readonly string[] = [], capDrop: readonly string[] = []): CapabilityName[] {
  const add = capAdd.map(normalize);
  const drop = new Set(capDrop.map(normalize));
  let result: CapabilityName[];
  if (add.includes('ALL')) result = ALL_CAPABILITIES.filter((c) => !drop.has(c));
  else if (drop.has('ALL')) result = add as CapabilityName[];
  else result = [...DOCKER_DEFAULT_CAPABILITIES.filter((c) => !drop.has(c)), ...(add as CapabilityName[])];
  return [...new Set(result)];
}
