import { PassThrough } from 'node:stream';
import { constants } from 'node:os';
import { IsolationError, NamespaceError } from './errors';
import type { ExitStatus, IsolationDriver, RunningContainer, RunningProcess } from './isolation-driver';
import type { ContainerProcessSpec, ExecSpec } from './spec';

/**
 * A scripted stand-in process for agent unit tests: streams are PassThroughs, the test decides
 * when and how it exits. Signals that would kill a real process (default action) end it with
 * 128 + signal unless listed in `ignoredSignals`.
 */
export class FakeProcess implements RunningContainer {
  readonly stdin = new PassThrough();
  readonly stdout = new PassThrough();
  readonly stderr: PassThrough | null;
  readonly signals: NodeJS.Signals[] = [];
  readonly resizes: Array<{ rows: number; cols: number }> = [];
  readonly ignoredSignals = new Set<NodeJS.Signals>(['SIGWINCH']);
  /** Set by closeStdin(). */
  stdinClosed = false;
  private status?: ExitStatus;
  private resolveExit!: (status: ExitStatus) => void;
  private readonly exitPromise = new Promise<ExitStatus>((resolve) => (this.resolveExit = resolve));

  constructor(
    readonly pid: number,
    readonly spec: ContainerProcessSpec | ExecSpec,
    /** For exec sessions: the container they joined. */
    readonly containerPid?: number,
  ) {
    this.stderr = spec.tty ? null : new PassThrough();
  }

  get tty(): boolean {
    return this.spec.tty === true;
  }

  get running(): boolean {
    return this.status === undefined;
  }

  /** Ends the process: closes its output streams and resolves wait(). */
  exit(exitCode: number, signal?: NodeJS.Signals): void {
    if (this.status) return;
    this.status = signal ? { exitCode, signal } : { exitCode };
    this.stdout.end();
    this.stderr?.end();
    this.resolveExit(this.status);
  }

  wait(): Promise<ExitStatus> {
    return this.exitPromise;
  }

  signal(signal: NodeJS.Signals): void {
    if (this.status) return;
    this.signals.push(signal);
    if (!this.ignoredSignals.has(signal)) this.exit(128 + (constants.signals[signal] ?? 0), signal);
  }

  resize(rows: number, cols: number): void {
    if (this.tty) this.resizes.push({ rows, cols });
  }

  closeStdin(): void {
    this.stdinClosed = true;
  }
}

type Script = (process: FakeProcess) => void | Promise<void>;

/** In-memory IsolationDriver: records every run/exec and lets tests script behaviour and failures. */
export class FakeIsolationDriver implements IsolationDriver {
  readonly containers: FakeProcess[] = [];
  readonly execs: FakeProcess[] = [];
  private nextPid = 4000;
  private readonly failures: IsolationError[] = [];
  private runScript?: Script;
  private execScript?: Script;

  /** Called for each started container, e.g. `p => { p.stdout.write('hi\n'); p.exit(0); }`. */
  onRun(script: Script): this {
    this.runScript = script;
    return this;
  }

  onExec(script: Script): this {
    this.execScript = script;
    return this;
  }

  /** The next run() or exec() rejects with this error (queue, first in first out). */
  failNext(error: IsolationError): this {
    this.failures.push(error);
    return this;
  }

  async run(runSpec: ContainerProcessSpec): Promise<RunningContainer> {
    const failure = this.failures.shift();
    if (failure) throw failure;
    const proc = new FakeProcess(this.nextPid++, runSpec);
    if (runSpec.beforeStart) await runSpec.beforeStart(proc.pid);
    this.containers.push(proc);
    await this.runScript?.(proc);
    return proc;
  }

  async exec(containerPid: number, execSpec: ExecSpec): Promise<RunningProcess> {
    const failure = this.failures.shift();
    if (failure) throw failure;
    const container = this.containers.find((c) => c.pid === containerPid && c.running);
    if (!container) {
      throw new NamespaceError(`namespace: no running container with init pid ${containerPid}`, 'namespace', constants.errno.ESRCH);
    }
    const proc = new FakeProcess(this.nextPid++, execSpec, containerPid);
    this.execs.push(proc);
    await this.execScript?.(proc);
    return proc;
  }
}
