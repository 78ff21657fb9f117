import { execFile, spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { constants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { errorFromHelper, InvalidSpecError, IsolationError } from './errors';
import { helperPath } from './helper-path';
import type { ExitStatus, IsolationDriver, RunningContainer, RunningProcess } from './isolation-driver';
import { encodeExecSpec, encodeRunSpec, type ContainerProcessSpec, type DetachedOptions, type ExecSpec, type StdioTarget } from './spec';
import { StatusLineReader, type StatusEvent } from './status-protocol';

/** fds of the helper: 3 spec (we write, then EOF), 4 status lines, 5 control lines. */
const SPEC_FD = 3;
const STATUS_FD = 4;
const CONTROL_FD = 5;

/** Signals the helper forwards to the workload; see FORWARDED_SIGNALS in the C source. */
const FORWARDED = new Set<NodeJS.Signals>(['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGALRM']);

const SIGNAL_NAMES = new Map<number, NodeJS.Signals>(
  Object.entries(constants.signals).map(([name, n]) => [n as number, name as NodeJS.Signals]),
);

export interface LinuxIsolationDriverOptions {
  /** Defaults to helperPath(). */
  helper?: string;
}

function stdioTarget(target: StdioTarget | undefined, fallback: StdioTarget): 'pipe' | 'ignore' | 'inherit' | number {
  return target ?? fallback;
}

/** Distinct seccomp rule sets kept compiled (one per capability set in practice). */
const MAX_COMPILED_FILTERS = 32;

/** Runs containers through the native helper (needs root). */
export class LinuxIsolationDriver implements IsolationDriver {
  private readonly helper: string;
  private readonly compiledFilters = new Map<string, Promise<string>>();

  constructor(options: LinuxIsolationDriverOptions = {}) {
    this.helper = options.helper ?? helperPath();
  }

  async run(spec: ContainerProcessSpec): Promise<RunningContainer> {
    const encoded = encodeRunSpec(spec);
    if (spec.detached) checkDetached(spec.detached);
    return this.start('run', await this.withCompiledSeccomp(encoded), spec.tty === true, spec.stdio, spec.beforeStart, spec.detached);
  }

  async exec(containerPid: number, spec: ExecSpec): Promise<RunningProcess> {
    const encoded = encodeExecSpec(containerPid, spec);
    return this.start('exec', await this.withCompiledSeccomp(encoded), spec.tty === true, spec.stdio);
  }

  /**
   * Replaces the spec's seccomp rule lines by the BPF program the helper compiles from them
   * (`seccomp-bpf`), once per distinct rule set: compiling with libseccomp costs ~10 ms of CPU,
   * loading a ready program almost nothing. The program lives only in this process's memory.
   */
  private async withCompiledSeccomp(encoded: string): Promise<string> {
    const lines = encoded.split('\n');
    const rules = lines.filter((l) => l.startsWith('seccomp_'));
    if (rules.length === 0) return encoded;
    const key = rules.join('\n');
    let compiled = this.compiledFilters.get(key);
    if (!compiled) {
      if (this.compiledFilters.size >= MAX_COMPILED_FILTERS) this.compiledFilters.clear();
      compiled = this.compileSeccomp(key);
      this.compiledFilters.set(key, compiled);
      compiled.catch(() => this.compiledFilters.delete(key)); // not cached when it failed; the caller gets the error below
    }
    const rest = lines.filter((l) => !l.startsWith('seccomp_') && l !== '');
    return [...rest, `seccomp_bpf=${await compiled}`, ''].join('\n');
  }

  private compileSeccomp(rules: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = execFile(this.helper, ['seccomp-bpf'], { encoding: 'buffer', maxBuffer: 1 << 20, timeout: 30_000 }, (error, stdout, stderr) => {
        if (error) reject(new IsolationError(`cannot compile the seccomp filter: ${stderr.toString().trim() || error.message}`, 'seccomp'));
        else resolve(stdout.toString('hex'));
      });
      child.stdin?.end(`arg=true\n${rules}\n`);
    });
  }

  private start(
    mode: 'run' | 'exec',
    encodedSpec: string,
    tty: boolean,
    stdio: ContainerProcessSpec['stdio'],
    beforeStart?: (pid: number) => Promise<void>,
    detached?: DetachedOptions,
  ): Promise<HelperProcess> {
    const captured = detached?.output !== undefined;
    const stdin = stdioTarget(stdio?.stdin, 'ignore');
    const stdout = captured ? 'ignore' : stdioTarget(stdio?.stdout, 'pipe');
    const stderr = tty || captured ? 'ignore' : stdioTarget(stdio?.stderr, 'pipe');
    const options: StdioOptions = [stdin, stdout, stderr, 'pipe', 'pipe', 'pipe'];
    const args = [mode, '--spec-fd', String(SPEC_FD), '--status-fd', String(STATUS_FD), '--control-fd', String(CONTROL_FD)];
    if (detached) args.push('--exit-file', detached.exitFile);
    if (detached?.output) {
      const { dir, maxBytes, maxFiles } = detached.output;
      args.push('--log-dir', dir, '--log-max-bytes', String(maxBytes), '--log-max-files', String(maxFiles));
    }
    if (detached?.stdinHold) args.push('--stdin-hold', detached.stdinHold);
    // detached = own session: a signal to this process group (or its death) does not reach the container.
    const child = spawn(this.helper, args, { stdio: options, detached: detached !== undefined });
    const proc = new HelperProcess(child, tty);
    return proc.starting(encodedSpec, beforeStart);
  }
}

function checkDetached(detached: DetachedOptions): void {
  const paths: Array<[string, unknown]> = [['exitFile', detached.exitFile], ['output.dir', detached.output?.dir ?? '/'], ['stdinHold', detached.stdinHold ?? '/']];
  for (const [name, path] of paths) {
    if (typeof path !== 'string' || !path.startsWith('/') || path.includes('\0')) throw new InvalidSpecError(`detached.${name} must be an absolute path, got "${String(path)}"`);
  }
  const output = detached.output;
  if (output && !(Number.isSafeInteger(output.maxBytes) && output.maxBytes > 0 && Number.isInteger(output.maxFiles) && output.maxFiles >= 1 && output.maxFiles <= 1000)) {
    throw new InvalidSpecError('detached.output needs maxBytes > 0 and maxFiles 1..1000');
  }
}

class HelperProcess implements RunningContainer {
  pid = 0;
  get helperPid(): number | undefined {
    return this.child.pid;
  }
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  private readonly control: Writable;
  private readonly reader = new StatusLineReader();
  private exitLine?: { exitCode: number; signal: number };
  private exited?: ExitStatus;
  private readonly exitPromise: Promise<ExitStatus>;
  private onEvent: (event: StatusEvent) => void = () => undefined;

  constructor(
    private readonly child: ChildProcess,
    readonly tty: boolean,
  ) {
    this.stdin = child.stdin;
    this.stdout = child.stdout;
    this.stderr = child.stderr;
    this.control = (child.stdio as unknown as Array<Writable>)[CONTROL_FD];
    // The control channel dies with the helper; writes after that must not crash the agent.
    this.control.on('error', () => undefined);
    this.stdin?.on('error', () => undefined);
    const status = child.stdio[STATUS_FD] as Readable;
    const statusEnded = new Promise<void>((resolve) => {
      status.on('data', (chunk: Buffer) => this.reader.push(chunk).forEach((e) => this.dispatch(e)));
      status.on('end', () => {
        this.reader.end().forEach((e) => this.dispatch(e));
        resolve();
      });
      status.on('error', () => resolve());
      status.on('close', () => resolve());
    });
    const helperExited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.on('exit', (code, signal) => resolve({ code, signal }));
      child.on('error', () => resolve({ code: 125, signal: null }));
    });
    this.exitPromise = Promise.all([helperExited, statusEnded]).then(([helper]) => {
      this.exited = this.exitStatus(helper.code, helper.signal);
      this.control.destroy();
      return this.exited;
    });
  }

  private exitStatus(code: number | null, signal: NodeJS.Signals | null): ExitStatus {
    if (this.exitLine) {
      const sig = SIGNAL_NAMES.get(this.exitLine.signal);
      return sig ? { exitCode: this.exitLine.exitCode, signal: sig } : { exitCode: this.exitLine.exitCode };
    }
    // The helper itself was killed (e.g. SIGKILL): the container died with it.
    if (signal) return { exitCode: 128 + (constants.signals[signal] ?? 0), signal };
    return { exitCode: code ?? 125 };
  }

  private dispatch(event: StatusEvent): void {
    if (event.type === 'pid') this.pid = event.pid;
    if (event.type === 'exit') this.exitLine = { exitCode: event.exitCode, signal: event.signal };
    this.onEvent(event);
  }

  /** Sends the spec and settles once the helper reports `started` or an error. */
  starting(encodedSpec: string, beforeStart?: (pid: number) => Promise<void>): Promise<HelperProcess> {
    return new Promise<HelperProcess>((resolve, reject) => {
      let settled = false;
      const settle = (error?: Error) => {
        if (settled) return;
        settled = true;
        if (error) reject(error);
        else resolve(this);
      };
      this.onEvent = (event) => {
        if (event.type === 'started') settle();
        else if (event.type === 'error') settle(errorFromHelper(event.stage, event.errno, event.message));
        else if (event.type === 'pid' && beforeStart) {
          beforeStart(event.pid).then(
            () => this.control.write('start\n'),
            (err: unknown) => {
              this.child.kill('SIGKILL');
              settle(err instanceof Error ? err : new IsolationError(String(err), 'start'));
            },
          );
        }
      };
      this.child.on('error', (err) => settle(new IsolationError(`cannot start helper: ${err.message}`, 'helper')));
      void this.exitPromise.then((status) =>
        settle(new IsolationError(`helper exited before the workload started (exit ${status.exitCode})`, 'helper', 0, status.exitCode)),
      );
      const specStream = this.child.stdio[SPEC_FD] as Writable;
      specStream.on('error', () => undefined);
      specStream.end(encodedSpec);
    });
  }

  wait(): Promise<ExitStatus> {
    return this.exitPromise;
  }

  signal(signal: NodeJS.Signals): void {
    if (this.exited || this.child.exitCode !== null || this.child.signalCode !== null) return;
    if (FORWARDED.has(signal)) {
      this.child.kill(signal);
    } else if (signal === 'SIGKILL' && this.pid > 0) {
      // Killing the init tears down the whole pid namespace. The helper reaps this pid and exits
      // right away, and we checked above that it is still running, so the pid is still ours.
      try {
        process.kill(this.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    } else {
      throw new IsolationError(`signal ${signal} cannot be delivered to the workload`, 'monitor');
    }
  }

  closeStdin(): void {
    if (!this.exited) this.control.write('close-stdin\n');
  }

  resize(rows: number, cols: number): void {
    if (!this.tty || this.exited) return;
    if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows <= 0 || cols <= 0) return;
    this.control.write(`resize ${rows} ${cols}\n`);
  }
}
