import { InvalidSpecError } from './errors';
import { defaultSeccompProfile, hostArchitecture, seccompSpecLines, type SeccompProfile } from './seccomp/profile';

/** Capability names without the CAP_ prefix. */
export type CapabilityName =
  | 'CHOWN' | 'DAC_OVERRIDE' | 'DAC_READ_SEARCH' | 'FOWNER' | 'FSETID' | 'KILL' | 'SETGID' | 'SETUID'
  | 'SETPCAP' | 'LINUX_IMMUTABLE' | 'NET_BIND_SERVICE' | 'NET_BROADCAST' | 'NET_ADMIN' | 'NET_RAW'
  | 'IPC_LOCK' | 'IPC_OWNER' | 'SYS_MODULE' | 'SYS_RAWIO' | 'SYS_CHROOT' | 'SYS_PTRACE' | 'SYS_PACCT'
  | 'SYS_ADMIN' | 'SYS_BOOT' | 'SYS_NICE' | 'SYS_RESOURCE' | 'SYS_TIME' | 'SYS_TTY_CONFIG' | 'MKNOD'
  | 'LEASE' | 'AUDIT_WRITE' | 'AUDIT_CONTROL' | 'SETFCAP' | 'MAC_OVERRIDE' | 'MAC_ADMIN' | 'SYSLOG'
  | 'WAKE_ALARM' | 'BLOCK_SUSPEND' | 'AUDIT_READ' | 'PERFMON' | 'BPF' | 'CHECKPOINT_RESTORE';

/** Docker's default capability set (`CapEff: 00000000a80425fb`); the helper uses it when none is given. */
export const DOCKER_DEFAULT_CAPABILITIES: readonly CapabilityName[] = [
  'CHOWN', 'DAC_OVERRIDE', 'FSETID', 'FOWNER', 'MKNOD', 'NET_RAW', 'SETGID', 'SETUID', 'SETFCAP',
  'SETPCAP', 'NET_BIND_SERVICE', 'SYS_CHROOT', 'KILL', 'AUDIT_WRITE',
];

export type RlimitName =
  | 'CPU' | 'FSIZE' | 'DATA' | 'STACK' | 'CORE' | 'RSS' | 'NPROC' | 'NOFILE' | 'MEMLOCK' | 'AS'
  | 'LOCKS' | 'SIGPENDING' | 'MSGQUEUE' | 'NICE' | 'RTPRIO' | 'RTTIME';

export interface Rlimit {
  type: RlimitName;
  soft: number | 'unlimited';
  hard: number | 'unlimited';
}

export interface ProcessUser {
  uid: number;
  gid: number;
  /** Supplementary groups; empty by default (setgroups(0)). */
  additionalGids?: number[];
}

export interface BindMount {
  /** Host path. */
  source: string;
  /** Path inside the container; symlinks resolve inside the root, `..` is refused. */
  target: string;
  readonly?: boolean;
}

/**
 * `none`: a new network namespace with only `lo`; `host`: share the host's; `join`: an existing one;
 * `bridge`: a new namespace whose `eth0` is the peer of a veth pair the helper creates over netlink
 * (host end `hostInterface`, up, in `bridge`), with `address` (CIDR) and a default route via `gateway`.
 */
export type NetworkMode =
  | { mode: 'none' }
  | { mode: 'host' }
  | { mode: 'join'; path: string }
  | { mode: 'bridge'; bridge: string; hostInterface: string; macAddress: string; address: string; gateway: string; /** Both veth ends; unset: the kernel's default. */ mtu?: number };

/** An overlay root mounted by the helper inside the container's own mount namespace. */
export interface OverlayRoot {
  /** Read-only layers, top-most first. */
  lowerDirs: string[];
  upperDir: string;
  workDir: string;
}

/** Where each standard stream of the workload goes. A number is an fd of this Node process. */
export type StdioTarget = 'pipe' | 'ignore' | 'inherit' | number;

export interface TerminalSize {
  rows: number;
  cols: number;
}

interface ProcessSpecBase {
  /** argv; args[0] is looked up in the container's PATH (from `env`) unless it contains a slash. */
  args: string[];
  /** Exactly the environment of the workload, `KEY=value` entries. */
  env?: string[];
  /** Absolute; created if missing. Default `/`. */
  cwd?: string;
  /** Numeric ids; resolve names from the image's /etc/passwd before calling. Default root. */
  user?: ProcessUser;
  /** Bounding/permitted/effective set; default Docker's. Inheritable and ambient stay empty. */
  capabilities?: readonly CapabilityName[];
  /** PR_SET_NO_NEW_PRIVS; default true. */
  noNewPrivileges?: boolean;
  /**
   * Seccomp filter loaded right before exec. Default `'default'`: the repository's profile
   * (Docker's default in effect), with the per-capability rules of `capabilities`.
   * `'unconfined'`: no filter. Give the same value to every exec into a container.
   */
  seccomp?: 'default' | 'unconfined' | SeccompProfile;
  rlimits?: Rlimit[];
  /** Cgroup directories the process joins before it runs (CgroupDriver.paths()). */
  cgroupPaths?: string[];
  /** Allocate a pty inside the container: stdin/stdout are relayed, stderr is merged into stdout. */
  tty?: boolean;
  terminalSize?: TerminalSize;
  /** Without a pty: stdin is already a terminal; make it the controlling tty. */
  controllingTerminal?: boolean;
  /** Defaults: stdin `ignore`, stdout and stderr `pipe`. */
  stdio?: { stdin?: StdioTarget; stdout?: StdioTarget; stderr?: StdioTarget };
}

export interface ContainerProcessSpec extends ProcessSpecBase {
  /**
   * Absolute path of the root filesystem; with `overlay`, an empty directory the overlay is mounted
   * on inside the container's mount namespace (the host sees nothing mounted there).
   */
  rootfs: string;
  overlay?: OverlayRoot;
  /**
   * false (default, like `docker run`): the entrypoint is PID 1 of the container. true (like
   * `docker run --init`): the helper is PID 1, forwards signals and reaps zombies; the entrypoint is PID 2.
   */
  init?: boolean;
  hostname?: string;
  /** Default `{ mode: 'none' }`. */
  network?: NetworkMode;
  mounts?: BindMount[];
  readonlyRootfs?: boolean;
  /**
   * Called with the container init's host pid once it sits in its cgroups and namespaces,
   * before anything inside runs (e.g. to move a veth into its network namespace).
   */
  beforeStart?: (pid: number) => Promise<void>;
  /**
   * Let the container outlive this Node process: the helper runs in its own session and writes
   * the exit record (`ExitRecord` as JSON) to `exitFile` when the workload ends. Give it stdio that
   * does not depend on this process (files or FIFOs), or the workload gets EPIPE once it is gone.
   */
  detached?: DetachedOptions;
}

export interface DetachedOptions {
  exitFile: string;
  /**
   * The helper captures stdout and stderr itself (stdio.stdout and stdio.stderr are then unused)
   * into `<dir>/output.log` records (`output-log.ts`), rotated at `maxBytes` into `maxFiles` files.
   */
  output?: { dir: string; maxBytes: number; maxFiles: number };
  /**
   * A FIFO the workload reads as stdin: the helper holds a write end of it, so the workload gets no
   * end-of-file while no agent writes, until `closeStdin()`. The caller must hold the FIFO open
   * while `run` starts.
   */
  stdinHold?: string;
}

/** What the helper writes to `detached.exitFile` when the workload ended (times are the helper's clock). */
export interface ExitRecord {
  exitCode: number;
  /** The signal that killed the workload, 0 when it exited. */
  signal: number;
  startedAt: string;
  finishedAt: string;
}

export type ExecSpec = ProcessSpecBase;

const ID_MAX = 0xfffffffe;

function escapeValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new InvalidSpecError(message);
}

function checkString(value: string, what: string): void {
  check(typeof value === 'string', `${what} must be a string`);
  check(!value.includes('\0'), `${what} must not contain NUL`);
}

function checkAbsolute(path: string, what: string): void {
  checkString(path, what);
  check(path.startsWith('/'), `${what} must be an absolute path, got "${path}"`);
  check(!path.includes('\n'), `${what} must not contain a newline`);
}

function checkId(id: number, what: string): void {
  check(Number.isInteger(id) && id >= 0 && id <= ID_MAX, `${what} must be an integer 0..${ID_MAX}`);
}

function rlimitValue(v: number | 'unlimited'): string {
  if (v === 'unlimited') return 'unlimited';
  check(Number.isSafeInteger(v) && v >= 0, `rlimit value must be a non-negative integer or "unlimited"`);
  return String(v);
}

/** Serializes the common process fields as helper spec lines (see native/README in ../README.md). */
function processLines(spec: ProcessSpecBase, lines: string[]): void {
  check(Array.isArray(spec.args) && spec.args.length > 0, 'args must name a command');
  check(spec.args[0] !== '', 'args[0] must not be empty');
  for (const arg of spec.args) {
    checkString(arg, 'argument');
    lines.push(`arg=${escapeValue(arg)}`);
  }
  for (const entry of spec.env ?? []) {
    checkString(entry, 'env entry');
    check(entry.indexOf('=') > 0, `env entry "${entry}" must look like KEY=value`);
    lines.push(`env=${escapeValue(entry)}`);
  }
  if (spec.cwd !== undefined) {
    checkAbsolute(spec.cwd, 'cwd');
    lines.push(`cwd=${spec.cwd}`);
  }
  const user = spec.user ?? { uid: 0, gid: 0 };
  checkId(user.uid, 'uid');
  checkId(user.gid, 'gid');
  lines.push(`uid=${user.uid}`, `gid=${user.gid}`);
  for (const g of user.additionalGids ?? []) {
    checkId(g, 'additional gid');
    lines.push(`group=${g}`);
  }
  if (spec.capabilities) {
    for (const c of spec.capabilities) check(/^[A-Z_]+$/.test(c), `bad capability name "${c}"`);
    lines.push(`caps=${spec.capabilities.join(',')}`);
  }
  lines.push(`no_new_privs=${spec.noNewPrivileges === false ? 0 : 1}`);
  const seccomp = spec.seccomp ?? 'default';
  if (seccomp !== 'unconfined') {
    const profile = seccomp === 'default' ? defaultSeccompProfile() : seccomp;
    lines.push(...seccompSpecLines(profile, spec.capabilities ?? DOCKER_DEFAULT_CAPABILITIES, hostArchitecture()));
  }
  for (const r of spec.rlimits ?? []) {
    check(/^[A-Z]+$/.test(r.type), `bad rlimit name "${r.type}"`);
    lines.push(`rlimit=${r.type}:${rlimitValue(r.soft)}:${rlimitValue(r.hard)}`);
  }
  for (const path of spec.cgroupPaths ?? []) {
    checkAbsolute(path, 'cgroup path');
    lines.push(`cgroup=${path}`);
  }
  if (spec.tty) {
    lines.push('pty=1');
    if (spec.terminalSize) {
      const { rows, cols } = spec.terminalSize;
      check(Number.isInteger(rows) && rows > 0 && rows < 65536, 'terminal rows out of range');
      check(Number.isInteger(cols) && cols > 0 && cols < 65536, 'terminal cols out of range');
      lines.push(`rows=${rows}`, `cols=${cols}`);
    }
  } else if (spec.controllingTerminal) {
    lines.push('tty=1');
  }
}

/** The helper's `run` spec: `key=value` lines. Throws InvalidSpecError before anything starts. */
export function encodeRunSpec(spec: ContainerProcessSpec): string {
  const lines: string[] = [];
  checkAbsolute(spec.rootfs, 'rootfs');
  lines.push(`root=${spec.rootfs}`);
  processLines(spec, lines);
  if (spec.hostname !== undefined) {
    check(/^[A-Za-z0-9]([A-Za-z0-9.-]{0,62})$/.test(spec.hostname), `invalid hostname "${spec.hostname}"`);
    lines.push(`hostname=${spec.hostname}`);
  }
  if (spec.overlay) {
    const { lowerDirs, upperDir, workDir } = spec.overlay;
    check(Array.isArray(lowerDirs) && lowerDirs.length > 0, 'overlay needs at least one lower directory');
    for (const dir of [...lowerDirs, upperDir, workDir]) {
      checkAbsolute(dir, 'overlay directory');
      check(!/[,:]/.test(dir), `overlay directory "${dir}" must not contain "," or ":"`);
    }
    for (const dir of lowerDirs) lines.push(`lower=${dir}`);
    lines.push(`upper=${upperDir}`, `work=${workDir}`);
  }
  if (spec.init) lines.push('init=1');
  const network = spec.network ?? { mode: 'none' };
  if (network.mode === 'host') lines.push('netns=host');
  else if (network.mode === 'join') {
    checkAbsolute(network.path, 'network namespace path');
    lines.push(`netns_path=${network.path}`);
  } else lines.push('netns=new');
  if (network.mode === 'bridge') {
    const ifName = /^[A-Za-z0-9_.-]{1,15}$/;
    check(ifName.test(network.bridge), `invalid bridge name "${network.bridge}"`);
    check(ifName.test(network.hostInterface), `invalid host interface name "${network.hostInterface}"`);
    check(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(network.macAddress), `invalid MAC address "${network.macAddress}"`);
    check(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(network.address), `address must be IPv4 CIDR, got "${network.address}"`);
    check(/^\d{1,3}(\.\d{1,3}){3}$/.test(network.gateway), `gateway must be an IPv4 address, got "${network.gateway}"`);
    lines.push(`veth_host=${network.hostInterface}`, `bridge=${network.bridge}`, `mac=${network.macAddress}`, `addr=${network.address}`, `gateway=${network.gateway}`);
    if (network.mtu !== undefined) {
      check(Number.isInteger(network.mtu) && network.mtu >= 576 && network.mtu <= 65535, `MTU must be an integer 576..65535, got ${network.mtu}`);
      lines.push(`mtu=${network.mtu}`);
    }
  }
  for (const m of spec.mounts ?? []) {
    checkAbsolute(m.source, 'mount source');
    checkAbsolute(m.target, 'mount target');
    check(!m.source.includes(':') && !m.target.includes(':'), 'mount paths must not contain ":"');
    lines.push(`mount=${m.source}:${m.target}:${m.readonly ? 'ro' : 'rw'}`);
  }
  if (spec.readonlyRootfs) lines.push('readonly_root=1');
  if (spec.beforeStart) lines.push('wait_start=1');
  return lines.join('\n') + '\n';
}

/** The helper's `exec` spec for joining the container whose init has host pid `pid`. */
export function encodeExecSpec(pid: number, spec: ExecSpec): string {
  check(Number.isInteger(pid) && pid > 0, 'exec needs the container init pid');
  const lines = [`pid=${pid}`];
  processLines(spec, lines);
  return lines.join('\n') + '\n';
}
