import { EventEmitter } from 'node:events';
import { createReadStream } from 'node:fs';
import { appendFile, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { LogLine } from '@muelle/contracts';

export interface LogRotation {
  maxBytes: number;
  maxFiles: number;
}

/** One JSON object per line on disk, like docker's json-file driver. */
interface StoredLine {
  stream: 'stdout' | 'stderr';
  time: string;
  log: string;
}

/** Output queued for the disk beyond this pauses the reader; the container then blocks on its pipe. */
const QUEUE_HIGH_WATER_BYTES = 1024 * 1024;
/** Longest line kept whole; a longer one is cut, as docker does (16 KiB). */
const MAX_LINE = 16384;

/**
 * The logs of one container: `container.log` plus rotated `container.log.1..N-1`. Lines are
 * appended in arrival order and emitted live as `line` events for followers and attach sessions.
 * Lines queued while a write runs go out together in the next write, and a reader is paused while
 * more than `QUEUE_HIGH_WATER_BYTES` wait: a container that floods its output slows down (its pipe
 * fills), as with Docker, instead of the agent's memory growing.
 */
export class ContainerLog extends EventEmitter {
  private queue: string[] = [];
  private queued = 0;
  private writer?: Promise<void>;
  private readonly drainWaiters: Array<() => void> = [];
  private size = -1;
  readonly path: string;

  constructor(
    private readonly dir: string,
    private readonly rotation: LogRotation,
  ) {
    super();
    this.path = join(dir, 'container.log');
  }

  /** Bytes waiting for the disk (bounded by the high-water mark plus one read). */
  get queuedBytes(): number {
    return this.queued;
  }

  /** Reads a stream line by line (a tty stream may end without newline) until it ends. */
  pump(stream: Readable, name: 'stdout' | 'stderr'): Promise<void> {
    return new Promise((resolve) => {
      let pending = '';
      let finished = false;
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        // Every line of one read arrived at the same moment: one clock read per chunk, not per line.
        const time = new Date().toISOString();
        pending += chunk;
        let start = 0;
        let nl: number;
        while ((nl = pending.indexOf('\n', start)) >= 0) {
          for (let cut = start; cut <= nl; cut += MAX_LINE) this.append(name, pending.slice(cut, Math.min(cut + MAX_LINE, nl + 1)), time);
          start = nl + 1;
        }
        pending = pending.slice(start);
        while (pending.length >= MAX_LINE) {
          this.append(name, pending.slice(0, MAX_LINE), time);
          pending = pending.slice(MAX_LINE);
        }
        if (this.queued > QUEUE_HIGH_WATER_BYTES && !stream.isPaused()) {
          stream.pause();
          void this.drained().then(() => !finished && stream.resume());
        }
      });
      const finish = () => {
        if (finished) return;
        finished = true;
        if (pending) this.append(name, pending);
        pending = '';
        void this.flushed().then(resolve);
      };
      stream.on('end', finish);
      stream.on('error', finish);
      stream.on('close', finish);
    });
  }

  append(stream: 'stdout' | 'stderr', log: string, time = new Date().toISOString()): void {
    const entry: StoredLine = { stream, time, log };
    this.emit('line', entry);
    const text = JSON.stringify(entry) + '\n';
    this.queue.push(text);
    this.queued += text.length;
    this.writer ??= this.writeQueued();
  }

  /** Resolves once everything appended so far is on disk (or failed to get there). */
  async flushed(): Promise<void> {
    while (this.writer) await this.writer;
  }

  private drained(): Promise<void> {
    return this.writer ? new Promise((resolve) => this.drainWaiters.push(resolve)) : Promise.resolve();
  }

  private async writeQueued(): Promise<void> {
    while (this.queue.length) {
      let taken = 0;
      try {
        taken = await this.writeSome();
      } catch (error) {
        // The folder or the rotation failed (full or broken disk): that must not stop the container
        // or the agent, so the lines queued now are dropped and reported (the runtime logs it).
        taken = this.queue.splice(0).reduce((sum, line) => sum + line.length, 0);
        this.emit('write-error', error);
      }
      this.queued -= taken;
      if (this.queued <= QUEUE_HIGH_WATER_BYTES / 2) this.drainWaiters.splice(0).forEach((wake) => wake());
    }
    this.writer = undefined;
    this.drainWaiters.splice(0).forEach((wake) => wake());
  }

  /** Writes as many queued lines as fit in the current file (rotating first when it is full). */
  private async writeSome(): Promise<number> {
    if (this.size < 0) {
      await mkdir(this.dir, { recursive: true });
      this.size = await stat(this.path).then((s) => s.size, () => 0);
    }
    if (this.size > 0 && this.size + Buffer.byteLength(this.queue[0]) > this.rotation.maxBytes) await this.rotate();
    let count = 0;
    let bytes = 0;
    while (count < this.queue.length) {
      const next = Buffer.byteLength(this.queue[count]);
      if (count > 0 && this.size + bytes + next > this.rotation.maxBytes) break;
      bytes += next;
      count++;
    }
    const batch = this.queue.splice(0, count).join('');
    try {
      await appendFile(this.path, batch);
      this.size += bytes;
    } catch (error) {
      // Dropped, as below: a disk that refuses one batch must not stop the container.
      this.emit('write-error', error);
    }
    return batch.length;
  }

  private async rotate(): Promise<void> {
    const keep = Math.max(this.rotation.maxFiles, 1);
    await rm(`${this.path}.${keep - 1}`, { force: true });
    for (let n = keep - 2; n >= 1; n--) await rename(`${this.path}.${n}`, `${this.path}.${n + 1}`).catch(() => undefined);
    if (keep > 1) await rename(this.path, `${this.path}.1`);
    else await rm(this.path, { force: true });
    this.size = 0;
  }

  /** All stored lines, oldest first, filtered. */
  async read(filter: { since?: string; until?: string; stdout: boolean; stderr: boolean; tail?: number }): Promise<LogLine[]> {
    await this.flushed();
    const files = (await readdir(this.dir).catch(() => [] as string[]))
      .filter((f) => /^container\.log(\.\d+)?$/.test(f))
      .sort((a, b) => Number(b.split('.')[2] ?? 0) - Number(a.split('.')[2] ?? 0));
    const since = filter.since ? Date.parse(filter.since) : -Infinity;
    const until = filter.until ? Date.parse(filter.until) : Infinity;
    const out: LogLine[] = [];
    for (const file of files) {
      const lines = createInterface({ input: createReadStream(join(this.dir, file)), crlfDelay: Infinity });
      for await (const text of lines) {
        if (!text) continue;
        let entry: StoredLine;
        try {
          entry = JSON.parse(text) as StoredLine;
        } catch {
          continue; // a line torn by a crash
        }
        const t = Date.parse(entry.time);
        if (t < since || t > until) continue;
        if ((entry.stream === 'stdout' && !filter.stdout) || (entry.stream === 'stderr' && !filter.stderr)) continue;
        out.push({ stream: entry.stream, time: entry.time, line: entry.log });
      }
    }
    return filter.tail === undefined ? out : filter.tail === 0 ? [] : out.slice(-filter.tail);
  }
}
