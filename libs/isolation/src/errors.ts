import { constants } from 'node:os';

const ERRNO_NAMES = new Map<number, string>(
  Object.entries(constants.errno).map(([name, value]) => [value as number, name]),
);

/** `ENOENT` for 2, `E123` for numbers Node does not know, `''` for 0. */
export function errnoName(errno: number): string {
  if (errno === 0) return '';
  return ERRNO_NAMES.get(errno) ?? `E${errno}`;
}

/** Where in the helper's sequence something failed (see native/muelle-isolate.c). */
export type IsolationStage =
  | 'spec' | 'namespace' | 'clone' | 'cgroup' | 'mount' | 'pivot' | 'network' | 'hostname'
  | 'pty' | 'tty' | 'rlimit' | 'cwd' | 'caps' | 'user' | 'exec' | 'start' | 'monitor' | 'helper'
  | (string & {});

/** Base class: a container or exec session could not be set up. */
export class IsolationError extends Error {
  constructor(
    message: string,
    readonly stage: IsolationStage,
    readonly errno = 0,
    /** The helper's exit code for this failure (125 setup, 126 not executable, 127 not found). */
    readonly exitCode = 125,
  ) {
    super(message);
    this.name = new.target.name;
  }

  get errnoName(): string {
    return errnoName(this.errno);
  }
}

/** The entrypoint or exec command does not exist (docker exit code 127). */
export class CommandNotFoundError extends IsolationError {}
/** Something was refused with EACCES/EPERM, e.g. the command is not executable (exit code 126). */
export class PermissionDeniedError extends IsolationError {}
/** A mount, bind mount or pivot_root step failed, including refused bind targets outside the root. */
export class MountError extends IsolationError {}
/** Creating or joining a namespace failed (e.g. the target container is gone). */
export class NamespaceError extends IsolationError {}
/** The spec given to the driver is invalid; nothing was started. */
export class InvalidSpecError extends IsolationError {
  constructor(message: string) {
    super(message, 'spec', 22);
  }
}

/** A cgroup file operation failed. */
export class CgroupError extends Error {
  constructor(
    message: string,
    readonly path?: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = new.target.name;
  }
}
/** A limit needs a controller this hierarchy does not offer (e.g. v2 memory on a hybrid host). */
export class CgroupControllerUnavailableError extends CgroupError {
  constructor(readonly controller: string, root: string) {
    super(`cgroup controller "${controller}" is not available under ${root}`, root);
  }
}

const EACCES = constants.errno.EACCES;
const EPERM = constants.errno.EPERM;
const ENOENT = constants.errno.ENOENT;
const ENOEXEC = constants.errno.ENOEXEC;

/** Maps a helper `error <stage> <errno> <message>` report onto the typed error classes. */
export function errorFromHelper(stage: string, errno: number, message: string): IsolationError {
  const text = `${stage}: ${message}`;
  if (stage === 'exec') {
    if (errno === ENOENT) return new CommandNotFoundError(text, stage, errno, 127);
    return new PermissionDeniedError(text, stage, errno, 126);
  }
  if (stage === 'mount' || stage === 'pivot') return new MountError(text, stage, errno);
  if (stage === 'namespace' || stage === 'clone') return new NamespaceError(text, stage, errno);
  if (stage === 'spec') return new IsolationError(text, stage, errno);
  if (errno === EACCES || errno === EPERM) return new PermissionDeniedError(text, stage, errno);
  if (errno === ENOEXEC) return new PermissionDeniedError(text, stage, errno, 126);
  return new IsolationError(text, stage, errno);
}

/** A host command (ip, iptables, nft) or a privileged file operation of the helper failed. */
export class HostCommandError extends Error {
  constructor(
    message: string,
    readonly command: string,
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}
