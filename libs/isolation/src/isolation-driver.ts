import type { Readable, Writable } from 'node:stream';
import type { ContainerProcessSpec, ExecSpec } from './spec';

export interface ExitStatus {
  /** Exit code, or 128 + signal number when the process was killed (shell convention). */
  exitCode: number;
  /** Set when the workload was killed by a signal. */
  signal?: NodeJS.Signals;
}

export interface RunningProcess {
  /** Host pid: the container's init for `run`, the exec'd process for `exec`. */
  readonly pid: number;
  /** Host pid of the native helper monitoring the process (what a re-adopting agent watches). */
  readonly helperPid?: number;
  /** Present when the matching stdio target was `pipe`. With a tty, stderr is null (merged). */
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  readonly tty: boolean;
  /** Resolves once the process has exited (never rejects). */
  wait(): Promise<ExitStatus>;
  /** Sends a signal to the workload (SIGKILL kills the whole container for `run`). No-op after exit. */
  signal(signal: NodeJS.Signals): void;
  /** Changes the pty size; ignored without a tty. */
  resize(rows: number, cols: number): void;
  /** Detached containers with `stdinHold`: the helper lets go of its write end of the stdin FIFO. */
  closeStdin(): void;
}

export type RunningContainer = RunningProcess;

/** Mechanism only: state machines, naming and cleanup policy live in the agent. */
export interface IsolationDriver {
  /** Resolves once the entrypoint was exec'd; rejects with an IsolationError subclass otherwise. */
  run(spec: ContainerProcessSpec): Promise<RunningContainer>;
  /** Runs a command inside the container whose init has host pid `containerPid`. */
  exec(containerPid: number, spec: ExecSpec): Promise<RunningProcess>;
}
