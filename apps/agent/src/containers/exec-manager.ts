import { randomBytes } from 'node:crypto';
import { ConflictError, ExecInfo, isDetachError, NotFoundError } from '@muelle/contracts';
import { creditOf, CreditedSender, CreditGrants, creditSender, Frame, FrameType, StreamEnd, StreamTransport, windowOf } from '@muelle/bus';
import { IsolationDriver, IsolationError, RunningProcess } from '@muelle/isolation';
import { resolveUser } from '@muelle/images';
import { ContainerRuntime, mergeEnv } from './container-runtime';
import { ContainerRecordOnDisk } from './container-record';
import { isolationOptionsOf } from './isolation-options';

interface ExecSession {
  id: string;
  containerId: string;
  cmd: string[];
  env: string[];
  user?: string;
  workingDir?: string;
  tty: boolean;
  attachStdin: boolean;
  detachKeys: string;
  process?: RunningProcess;
  exitCode: number | null;
  started: boolean;
}

/** docker-style two-step exec: create registers the command, start runs it (streamed or detached). */
export class ExecManager {
  private readonly sessions = new Map<string, ExecSession>();

  constructor(
    private readonly runtime: ContainerRuntime,
    private readonly driver: IsolationDriver,
    private readonly streams: () => StreamTransport,
  ) {}

  create(request: { containerId: string; cmd: string[]; env: string[]; user?: string; workingDir?: string; tty: boolean; attachStdin: boolean; detachKeys?: string }): { execId: string } {
    if (!this.runtime.isRunning(request.containerId)) throw new ConflictError(`container ${request.containerId} is not running`);
    const id = randomBytes(32).toString('hex');
    this.sessions.set(id, { id, ...request, detachKeys: request.detachKeys ?? '', exitCode: null, started: false });
    return { execId: id };
  }

  inspect(execId: string): ExecInfo {
    const s = this.sessions.get(execId);
    if (!s) throw new NotFoundError(`no such exec: ${execId}`);
    return { id: s.id, containerId: s.containerId, cmd: s.cmd, tty: s.tty, attachStdin: s.attachStdin, detachKeys: s.detachKeys, running: s.started && s.exitCode === null, exitCode: s.exitCode, pid: s.process?.pid ?? null };
  }

  async start(request: { execId: string; streamId?: string; terminalSize?: { rows: number; cols: number } }): Promise<ExecInfo> {
    const s = this.sessions.get(request.execId);
    if (!s) throw new NotFoundError(`no such exec: ${request.execId}`);
    if (s.started) throw new ConflictError(`exec ${s.id} was already started`);
    const record = this.runtime.get(s.containerId);
    if (record.state !== 'running' || !record.initPid) throw new ConflictError(`container ${s.containerId} is not running`);
    s.started = true;
    const root = this.runtime.rootView(s.containerId);
    const user = s.user && root ? await resolveUser(root, s.user) : record.user;
    const streaming = request.streamId !== undefined;
    let end: StreamEnd | undefined;
    let ready!: () => void;
    const clientReady = new Promise<void>((r) => (ready = r));
    let proc: RunningProcess | undefined;
    const pendingInput: Array<[FrameType, Buffer]> = [];
    // Output waits for credit; the caller's Ready brings the first window. Relaying starts at once
    // (one chunk read, the rest left in the pipe) because Node drops what a child's unread pipe
    // holds when the child exits (child_process resumes stdio nobody listens to).
    const output = new CreditedSender((t, p) => end?.send(t, p));
    let callerReady = false;
    // Stdin within the credit we grant, granted back once the process's pipe took the bytes.
    const input = new CreditGrants(creditSender((type, payload) => end?.send(type, payload)));
    const onFrame = (frameType: FrameType, payload: Buffer) => {
      let type = frameType;
      if (type === Frame.Ready) {
        if (callerReady) return;
        callerReady = true;
        output.grant(windowOf(payload));
        input.open();
        return ready();
      }
      if (type === Frame.Credit) return output.grant(creditOf(payload));
      // The caller left (or fell silent: its api died): output is still drained, so the process
      // never blocks on a full pipe, but sent nowhere; its input ends (as dockerd ends a non-tty
      // exec's with the client's connection), unless the user detached: then it stays open, as
      // dockerd leaves a tty exec's, and the process runs on undisturbed.
      if (type === Frame.Error) {
        output.release();
        // A caller that died before its Ready never sends it: its process's exit is not held back for it.
        if (!callerReady) {
          callerReady = true;
          ready();
        }
        if (isDetachError(payload)) return;
        type = Frame.StdinEnd;
      }
      if (type === Frame.Stdin && !input.received(payload.length)) {
        output.release();
        end?.sendJson(Frame.Error, { code: 'INVALID_ARGUMENT', message: 'the caller sent more input than it was granted' });
        return;
      }
      const delivered = type === Frame.Stdin ? () => input.delivered(payload.length) : () => undefined;
      if (!proc) return void pendingInput.push([type, Buffer.from(payload)]);
      handleInput(proc, type, payload, delivered);
    };
    if (streaming) {
      end = new StreamEnd(this.streams(), request.streamId as string, 'server', onFrame);
      // Before the answer: the caller's Ready must find this end (StreamEnd.subscribed).
      await end.subscribed();
      // A caller that never says Ready is gone (its request outlived it): the output is drained
      // and dropped, so the process does not block on a pipe nobody will read.
      setTimeout(() => {
        if (callerReady) return;
        callerReady = true;
        output.release();
        ready();
      }, READY_TIMEOUT_MS).unref();
    }
    try {
      proc = await this.driver.exec(record.initPid, {
        ...this.processIn(record, s.cmd, mergeEnv(record.env, s.env), s.workingDir ?? record.workingDir, user),
        tty: s.tty,
        terminalSize: request.terminalSize,
        stdio: streaming ? { stdin: s.attachStdin || s.tty ? 'pipe' : 'ignore', stdout: 'pipe', stderr: 'pipe' } : { stdin: 'ignore', stdout: 'ignore', stderr: 'ignore' },
      });
    } catch (error) {
      s.exitCode = error instanceof IsolationError ? error.exitCode : 126;
      if (end) {
        const session = end;
        void clientReady.then(() => {
          session.sendJson(Frame.Error, { code: 'INVALID_ARGUMENT', message: (error as Error).message });
          session.close();
        });
      }
      return this.inspect(s.id);
    }
    s.process = proc;
    const running = proc;
    for (const [type, payload] of pendingInput) handleInput(running, type, payload, type === Frame.Stdin ? () => input.delivered(payload.length) : () => undefined);
    if (end) {
      const session = end;
      // Read only within the caller's credit (before its Ready: one chunk a pipe): out of credit
      // the pipe fills and the process blocks on its write, as under Docker.
      const outputDone = Promise.all([relay(running.stdout, Frame.Stdout, output), relay(running.stderr, Frame.Stderr, output)]);
      void Promise.all([running.wait(), outputDone, clientReady]).then(([status]) => {
        s.exitCode = status.exitCode;
        session.sendJson(Frame.Exit, { exitCode: status.exitCode });
        session.close();
      });
    } else {
      void running.wait().then((status) => (s.exitCode = status.exitCode));
    }
    return this.inspect(s.id);
  }

  /**
   * One health-check probe: `args` run in the container exactly as an `exec` would (its user,
   * environment, working directory, capabilities, seccomp filter, ulimits and cgroup), stdout and
   * stderr kept up to 4 KiB. Past `timeoutMs` the probe is killed and counts as failed (-1).
   */
  async probe(containerId: string, args: string[], timeoutMs: number): Promise<{ exitCode: number; output: string }> {
    const record = this.runtime.get(containerId);
    if (record.state !== 'running' || !record.initPid) throw new ConflictError(`container ${containerId} is not running`);
    let proc: RunningProcess;
    try {
      proc = await this.driver.exec(record.initPid, {
        ...this.processIn(record, args, record.env, record.workingDir, record.user),
        tty: false,
        stdio: { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' },
      });
    } catch (error) {
      // A missing command is a failed probe with the helper's exit code (127), as in Docker.
      if (error instanceof IsolationError) return { exitCode: error.exitCode, output: error.message };
      throw error;
    }
    const chunks: Buffer[] = [];
    let kept = 0;
    const keep = (chunk: Buffer) => {
      if (kept >= PROBE_OUTPUT_BYTES) return; // keep draining so the probe never blocks on a full pipe
      chunks.push(chunk.subarray(0, PROBE_OUTPUT_BYTES - kept));
      kept += Math.min(chunk.length, PROBE_OUTPUT_BYTES - kept);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    const outcome = await Promise.race([Promise.all([proc.wait(), ended(proc.stdout), ended(proc.stderr)]).then(([status]) => status), timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      proc.signal('SIGKILL');
      return { exitCode: -1, output: `Health check exceeded timeout (${timeoutMs / 1000}s)` };
    }
    return { exitCode: outcome.exitCode, output: Buffer.concat(chunks).toString('utf8') };
  }

  /** What every process Muelle runs in a container shares with an `exec`: docker exec's isolation, in the container's cgroup. */
  private processIn(record: ContainerRecordOnDisk, args: string[], env: string[], cwd: string, user: { uid: number; gid: number; additionalGids: number[] }) {
    return {
      args,
      env,
      cwd,
      user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
      // Like docker exec: the container's capabilities, seccomp filter and ulimits, not the defaults.
      ...execIsolation(record.spec),
      cgroupPaths: this.runtime.cgroupPaths(record.id),
    };
  }
}

/** How long a streamed exec waits for its caller's Ready. */
const READY_TIMEOUT_MS = 60_000;

/** Docker keeps 4 KiB of a probe's output. */
const PROBE_OUTPUT_BYTES = 4096;

/** One output pipe to the stream: a chunk is read only once the previous one went out. */
async function relay(stream: NodeJS.ReadableStream | null, type: FrameType, sender: CreditedSender): Promise<void> {
  if (!stream) return;
  try {
    for await (const chunk of stream) await sender.send(type, chunk as Buffer);
  } catch {
    // The pipe broke (the process died): its exit status tells the rest.
  }
}

/** Stdin, a resize or the end of input for the process; `delivered` runs once its pipe took stdin bytes. */
function handleInput(proc: RunningProcess, type: FrameType, payload: Buffer, delivered: () => void): void {
  if (type === Frame.Stdin) {
    if (!proc.stdin || proc.stdin.destroyed || proc.stdin.writableEnded) return delivered();
    proc.stdin.write(Buffer.from(payload), () => delivered());
  }
  else if (type === Frame.StdinEnd) proc.stdin?.end();
  else if (type === Frame.Resize) {
    try {
      const { rows, cols } = JSON.parse(payload.toString()) as { rows: number; cols: number };
      proc.resize(rows, cols);
    } catch {
      // malformed resize: ignore
    }
  }
}

function ended(stream: NodeJS.ReadableStream | null): Promise<void> {
  if (!stream) return Promise.resolve();
  return new Promise((r) => {
    stream.on('end', () => r());
    stream.on('close', () => r());
    stream.on('error', () => r());
  });
}

function execIsolation(spec: Parameters<typeof isolationOptionsOf>[0]) {
  const { capabilities, seccomp, rlimits } = isolationOptionsOf(spec);
  return { capabilities, seccomp, rlimits };
}
