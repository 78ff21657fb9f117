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

/**
 * The logs of one container: `container.log` plus rotated `container.log.1..N-1`. Lines are
 * appended in arrival order (writes are serialized) and emitted live as `line` events for
 * followers and attach sessions.
 */
export class ContainerLog extends EventEmitter {
  private writing: Promise<void> = Promise.resolve();
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
      });
      const finish = () => {
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
    this.writing = this.writing.then(() => this.write(text)).catch(() => undefined);
  }

  flushed(): Promise<void> {
    return this.writing;
  }

  private async write(text: string): Promise<void> {
    if (this.size < 0) {
      await mkdir(this.dir, { recursive: true });
      this.size = await stat(this.path).then((s) => s.size, () => 0);
    }
    if (this.size > 0 && this.size + text.length > this.rotation.maxBytes) await this.rotate();
    await appendFile(this.path, text);
    this.size += Buffer.byteLength(text);
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
