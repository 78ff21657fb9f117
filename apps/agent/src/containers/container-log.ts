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

/** Output waiting for the disk beyond which the capture stops reading (the container then blocks on its pipe). */
export const LOG_HIGH_WATER_BYTES = 1024 * 1024;

/**
 * The logs of one container: `container.log` plus rotated `container.log.1..N-1`. Lines are
 * appended in arrival order and emitted live as `line` events for followers and attach sessions.
 * Lines waiting for the disk are written in batches, one append per batch; while more than
 * LOG_HIGH_WATER_BYTES wait, the pumps pause reading, so a container that floods its output slows
 * down on its full pipe instead of growing the agent (Docker's behaviour).
 */
export class ContainerLog extends EventEmitter {
  private queue: string[] = [];
  private queuedBytes = 0;
  private draining: Promise<void> | null = null;
  private readonly paused = new Set<Readable>();
  private size = -1;
  readonly path: string;

  constructor(
    private readonly dir: string,
    private readonly rotation: LogRotation,
  ) {
    super();
    this.path = join(dir, 'container.log');
  }

  /** Reads a stream line by line (a tty stream may end without newline) until it ends. */
  pump(stream: Readable, name: 'stdout' | 'stderr'): Promise<void> {
    return new Promise((resolve) => {
      let pending = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        pending += chunk;
        let nl: number;
        while ((nl = pending.indexOf('\n')) >= 0) {
          this.append(name, pending.slice(0, nl + 1));
          pending = pending.slice(nl + 1);
        }
        // A very long line without newline is cut like docker does (16 KiB).
        while (pending.length >= 16384) {
          this.append(name, pending.slice(0, 16384));
          pending = pending.slice(16384);
        }
        if (this.queuedBytes > LOG_HIGH_WATER_BYTES) {
          stream.pause();
          this.paused.add(stream);
        }
      });
      const finish = () => {
        this.paused.delete(stream);
        if (pending) this.append(name, pending);
        pending = '';
        void this.flushed().then(resolve);
      };
      stream.on('end', finish);
      stream.on('error', finish);
      stream.on('close', finish);
    });
  }

  append(stream: 'stdout' | 'stderr', log: string): void {
    const entry: StoredLine = { stream, time: new Date().toISOString(), log };
    this.emit('line', entry);
    const text = JSON.stringify(entry) + '\n';
    this.queue.push(text);
    this.queuedBytes += text.length;
    this.draining ??= this.drain();
  }

  /** Resolves once every line appended so far is on disk. */
  flushed(): Promise<void> {
    return this.draining ?? Promise.resolve();
  }

  /** Pending bytes not yet on disk (tests, metrics). */
  get backlogBytes(): number {
    return this.queuedBytes;
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length) {
        const batch = this.queue;
        this.queue = [];
        this.queuedBytes = 0;
        // Room again: the pumps read on while this batch is written.
        for (const stream of this.paused) stream.resume();
        this.paused.clear();
        await this.write(batch).catch(() => undefined); // a full or failing disk loses lines, never the agent
      }
    } finally {
      this.draining = null;
    }
  }

  /** Appends lines, rotating between them when the file would pass its size limit. */
  private async write(lines: string[]): Promise<void> {
    if (this.size < 0) {
      await mkdir(this.dir, { recursive: true });
      this.size = await stat(this.path).then((s) => s.size, () => 0);
    }
    let group = '';
    let groupBytes = 0;
    for (const line of lines) {
      const bytes = Buffer.byteLength(line);
      if (this.size + groupBytes > 0 && this.size + groupBytes + bytes > this.rotation.maxBytes) {
        if (group) await appendFile(this.path, group);
        this.size += groupBytes;
        group = '';
        groupBytes = 0;
        if (this.size > 0) await this.rotate();
      }
      group += line;
      groupBytes += bytes;
    }
    if (group) await appendFile(this.path, group);
    this.size += groupBytes;
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
