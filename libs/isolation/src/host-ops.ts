import { execFile } from 'node:child_process';
import { HostCommandError } from './errors';
import { helperPath } from './helper-path';

/**
 * Runs a host tool (ip, iptables, nft, …) without a shell and resolves with its stdout. The only
 * place outside the helper where the platform runs other programs, so it stays in this library.
 */
export function runHostCommand(command: string, args: readonly string[], options: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(command, args as string[], { timeout: options.timeoutMs ?? 30_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (!error) return resolve(stdout);
      const code = typeof (error as NodeJS.ErrnoException & { code?: unknown }).code === 'number' ? ((error as unknown as { code: number }).code) : null;
      const detail = (stderr || error.message).trim();
      reject(new HostCommandError(`${command} ${args.join(' ')} failed: ${detail}`, command, code, stderr));
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/**
 * Privileged file-system operations Node has no API for, done by the native helper's `fsop`
 * mode: device/FIFO nodes and xattrs (overlay whiteouts in the layer store) and mounts
 * (overlay roots). Shaped to serve as `PrivilegedFsHooks` of `@muelle/oci`'s `applyLayer`.
 */
export class HostFs {
  constructor(private readonly helper = helperPath()) {}

  private fsop(args: string[]): Promise<void> {
    return runHostCommand(this.helper, ['fsop', ...args]).then(() => undefined);
  }

  mknod(targetPath: string, kind: 'char' | 'block' | 'fifo', mode: number, major: number, minor: number): Promise<void> {
    return this.fsop(['mknod', targetPath, kind, (mode & 0o7777).toString(8), String(major), String(minor)]);
  }

  lsetxattr(targetPath: string, name: string, value: Buffer): Promise<void> {
    return this.fsop(['setxattr', targetPath, name, value.toString('hex')]);
  }

  mkfifo(targetPath: string, mode = 0o600): Promise<void> {
    return this.mknod(targetPath, 'fifo', mode, 0, 0);
  }

  /** Mounts an overlay at `target`; `lowerDirs` top-most first, like overlayfs wants them. */
  mountOverlay(target: string, lowerDirs: readonly string[], upperDir: string, workDir: string): Promise<void> {
    for (const dir of [target, upperDir, workDir, ...lowerDirs]) {
      if (!dir.startsWith('/') || /[,:\n]/.test(dir)) throw new HostCommandError(`overlay path "${dir}" must be absolute without , or :`, 'fsop', null, '');
    }
    return this.fsop(['overlay', target, lowerDirs.join(':'), upperDir, workDir]);
  }

  bindMount(source: string, target: string): Promise<void> {
    return this.fsop(['bind', source, target]);
  }

  /** Directories below `upperDir` (relative, `.` for itself) that an overlay marked opaque (`trusted.overlay.opaque=y`). */
  async opaqueDirectories(upperDir: string): Promise<string[]> {
    const out = await runHostCommand(this.helper, ['fsop', 'opaque-dirs', upperDir]);
    return out.split('\0').filter(Boolean);
  }

  /**
   * Attaches an eBPF device program built from v1-style `rules` ("c 1:3 rwm") to a cgroup v2
   * directory: only what the rules allow may be created or opened by its processes.
   */
  attachDeviceFilter(cgroupDir: string, rules: readonly string[]): Promise<void> {
    for (const rule of rules) {
      if (!/^(a|[abc] (\d+|\*):(\d+|\*) [rwm]{1,3})$/.test(rule)) throw new HostCommandError(`bad device rule "${rule}"`, 'fsop', null, '');
    }
    return this.fsop(['devices', cgroupDir, ...rules]);
  }

  /** Lazy unmount; a target that is not mounted is fine. */
  unmount(target: string): Promise<void> {
    return this.fsop(['umount', target]);
  }
}
