import { BusClient, creditOf, CreditedSender, CreditGrants, creditSender, Frame, FrameType, StreamEnd, windowOf } from '@muelle/bus';
import { ConflictError, LogLine } from '@muelle/contracts';
import { isoOfNs, OutputRecord } from '@muelle/isolation';
import { ContainerLog, LogCursor, LogFilter } from './container-log';
import { ContainerRuntime } from './container-runtime';

const MAX_REPLY_LINES = 5000;
const MAX_REPLY_BYTES = 512 * 1024;

export interface LogsRequest extends LogFilter {
  id: string;
  timestamps: boolean;
  follow: boolean;
  streamId?: string;
}

/**
 * A container's output to the bus: `logs` (a reply, or a stream of what is stored and, with
 * `follow`, what comes) and `attach` (what comes, plus stdin). Streams carry the bytes as the
 * container wrote them, read from its log file by a cursor of their own, within the credit the
 * caller grants (`stream-credit.ts`): out of credit, the cursor stops reading and the file keeps
 * the rest, so a slow reader costs no memory and loses nothing.
 */
export class OutputStreams {
  constructor(
    private readonly runtime: ContainerRuntime,
    private readonly bus: BusClient,
  ) {}

  async logs(r: LogsRequest): Promise<{ lines: LogLine[]; truncated: boolean; streaming: boolean }> {
    const log = this.runtime.logOf(r.id);
    if (!r.streamId) {
      const lines = await log.read(r);
      let bytes = 0;
      let start = lines.length;
      while (start > 0 && lines.length - start < MAX_REPLY_LINES && bytes + (lines[start - 1] as LogLine).line.length <= MAX_REPLY_BYTES) bytes += (lines[--start] as LogLine).line.length;
      return { lines: lines.slice(start), truncated: start > 0, streaming: false };
    }
    let stopped = false;
    let ready!: () => void;
    const clientReady = new Promise<void>((res) => (ready = res));
    let output: CreditedSender | undefined;
    const end = new StreamEnd(this.bus.streams(), r.streamId, 'server', (type: FrameType, payload: Buffer) => {
      if (type === Frame.Ready && !output) {
        output = new CreditedSender((t, p) => end.send(t, p), windowOf(payload));
        ready();
      } else if (type === Frame.Credit) output?.grant(creditOf(payload));
      // StdinEnd: stop following; Error: the caller left. Either way a send waiting for credit wakes.
      else if (type === Frame.StdinEnd || type === Frame.Error) {
        stopped = true;
        output?.release();
        // A caller gone before its Ready never sends it: the session still ends and closes its cursor.
        ready();
      }
    });
    const wanted = (stream: 'stdout' | 'stderr') => (stream === 'stdout' ? r.stdout : r.stderr);
    const frame = (stream: 'stdout' | 'stderr') => (stream === 'stdout' ? Frame.Stdout : Frame.Stderr);
    // Opened now, so what is written while the past is sent is not missed.
    const cursor = r.follow ? await log.cursor('end').opened() : undefined;
    void clientReady.then(async () => {
      try {
        const since = r.since ? Date.parse(r.since) : -Infinity;
        const until = r.until ? Date.parse(r.until) : Infinity;
        const sender = output as CreditedSender;
        const sendRecord = async (record: OutputRecord) => {
          const ms = Number(record.timeNs / 1_000_000n);
          if (stopped || !wanted(record.stream) || ms < since || ms > until) return;
          await sender.send(frame(record.stream), r.timestamps ? Buffer.from(withTimestamps(record)) : record.data);
        };
        if (r.tail === undefined && !r.timestamps) {
          // The bytes as written (a prompt without newline, binary output), not lines.
          await log.records(sendRecord, cursor?.offset);
        } else {
          for (const l of await log.read(r, cursor?.offset)) if (!stopped) await sender.send(frame(l.stream), Buffer.from(r.timestamps ? `${l.time} ${l.line}` : l.line));
        }
        if (cursor) await this.follow(r.id, log, cursor, () => stopped, sendRecord);
        end.sendJson(Frame.Exit, { exitCode: 0 });
      } catch (error) {
        end.sendJson(Frame.Error, { code: 'INTERNAL', message: `reading the log failed: ${(error as Error).message}` });
      } finally {
        await cursor?.close();
        end.close();
      }
    });
    // Before the answer: the caller's Ready must find this end (StreamEnd.subscribed).
    await end.subscribed();
    return { lines: [], truncated: false, streaming: true };
  }

  /** Live output from now on, and stdin when asked and the container has it; ends with its exit code. */
  async attach(r: { id: string; streamId: string; stdin: boolean; fromStart?: boolean }): Promise<{ tty: boolean }> {
    const record = this.runtime.get(r.id);
    if (record.state !== 'running') throw new ConflictError(`container ${r.id} is not running`);
    const log = this.runtime.logOf(r.id);
    const runStart = r.fromStart ? this.runtime.runLogStart(r.id) : undefined;
    const cursor = await (runStart ? log.cursorAt(runStart) : log.cursor('end')).opened();
    let ready!: () => void;
    const clientReady = new Promise<void>((res) => (ready = res));
    let detached = false;
    const stdin = r.stdin && record.spec.openStdin;
    let output: CreditedSender | undefined;
    // Stdin within the credit we grant: granted back once the container's FIFO took the bytes.
    const input = new CreditGrants(creditSender((type, payload) => end.send(type, payload)));
    const leave = () => {
      detached = true;
      output?.release();
    };
    const end = new StreamEnd(this.bus.streams(), r.streamId, 'server', (type: FrameType, payload: Buffer) => {
      if (type === Frame.Ready && !output) {
        output = new CreditedSender((t, p) => end.send(t, p), windowOf(payload));
        input.open();
        ready();
      } else if (type === Frame.Credit) output?.grant(creditOf(payload));
      else if (type === Frame.Stdin) {
        const bytes = payload.length;
        if (!input.received(bytes)) return this.refuseOverrun(end, leave);
        if (stdin) this.runtime.writeStdin(r.id, payload, () => input.delivered(bytes));
        else input.delivered(bytes);
      }
      // Docker's StdinOnce: the attached client's end of input is the container's.
      else if (type === Frame.StdinEnd && stdin && record.spec.stdinOnce) this.runtime.closeStdin(r.id);
      else if (type === Frame.Resize) this.runtime.resize(r.id, payload);
      else if (type === Frame.Error) {
        // The caller left (detach keys, closed connection, silence); one gone before its Ready never
        // sends it, so the session ends now and closes its cursor.
        leave();
        ready();
      }
    });
    void clientReady.then(async () => {
      try {
        const sender = output as CreditedSender;
        await this.follow(r.id, log, cursor, () => detached, (rec) => sender.send(rec.stream === 'stdout' ? Frame.Stdout : Frame.Stderr, rec.data));
        // A caller that left waits for nothing more.
        if (detached) return;
        const { exitCode } = await this.runtime.wait(r.id, 'not-running');
        end.sendJson(Frame.Exit, { exitCode });
      } catch (error) {
        end.sendJson(Frame.Error, { code: 'INTERNAL', message: `reading the output failed: ${(error as Error).message}` });
      } finally {
        await cursor.close();
        end.close();
      }
    });
    await end.subscribed(); // before the answer (see logs)
    return { tty: record.spec.tty };
  }

  /**
   * Sends what the cursor reads until the container stopped running (and then what it wrote last:
   * its exit is recorded only after the helper drained its output) or `stop()` says so.
   */
  private async follow(id: string, log: ContainerLog, cursor: LogCursor, stop: () => boolean, send: (record: OutputRecord) => Promise<void>): Promise<void> {
    for (;;) {
      const active = this.isActive(id);
      const records = await cursor.next();
      // The next read waits until these went out: out of credit, the file holds the rest.
      for (const record of records) if (!stop()) await send(record);
      if (stop()) return;
      if (records.length) continue;
      if (!active) return;
      await log.appended();
    }
  }

  /** The caller sent more stdin than it was granted: a broken peer, so the session ends. */
  private refuseOverrun(end: StreamEnd, leave: () => void): void {
    leave();
    end.sendJson(Frame.Error, { code: 'INVALID_ARGUMENT', message: 'the caller sent more input than it was granted' });
  }

  private isActive(id: string): boolean {
    const state = this.runtime.all().find((x) => x.id === id)?.state;
    return state === 'running' || state === 'restarting';
  }
}

/** Docker's `--timestamps`: each line prefixed with its time. */
function withTimestamps(record: OutputRecord): string {
  const time = isoOfNs(record.timeNs);
  return record.data
    .toString('utf8')
    .split(/(?<=\n)/)
    .map((line) => `${time} ${line}`)
    .join('');
}
