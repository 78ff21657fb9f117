import { EventEmitter } from 'node:events';
import { createReadStream, watch, type FSWatcher } from 'node:fs';
import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { LogLine } from '@muelle/contracts';
import { isoOfNs, OUTPUT_LOG_FILE, OutputRecord, parseOutputRecords } from '@muelle/isolation';
import { unlessAbsent } from '@muelle/service-kit';

export interface LogRotation {
  maxBytes: number;
  maxFiles: number;
}

export interface LogMark {
  inode: number;
  offset: number;
}

export interface LogFilter {
  since?: string;
  until?: string;
  stdout: boolean;
  stderr: boolean;
  tail?: number;
}

/** Longest line kept whole when output is read as lines; a longer one is cut, as docker does (16 KiB). */
const MAX_LINE = 16384;
const READ_BYTES = 256 * 1024;
/** Followers look at the file this often even when no change was signalled (a missed inotify event). */
const FOLLOW_POLL_MS = 250;

/**
 * The output of one container, as its helper writes it (`output.log`, rotated to `.1..N-1`; the
 * helper owns the pipes, so output is captured while no agent runs). The agent only reads: whole
 * files as lines for `logs`, and cursors that follow the file as bytes for attach and `logs -f` —
 * each follower reads at its own pace from the disk, so a slow one holds no memory.
 * `container.log` files of containers started before the helper captured output are still read.
 */
export class ContainerLog extends EventEmitter {
  readonly path: string;
  private watcher?: FSWatcher;

  constructor(
    private readonly dir: string,
    readonly rotation: LogRotation,
  ) {
    super();
    this.path = join(dir, OUTPUT_LOG_FILE);
    this.setMaxListeners(0);
  }

  /** Signals `appended` on every change in the folder while the container runs. */
  watch(): void {
    if (this.watcher) return;
    try {
      this.watcher = watch(this.dir, () => this.emit('appended'));
      this.watcher.on('error', () => this.unwatch());
    } catch (error) {
      // No inotify (watch limits reached): followers fall back to polling every FOLLOW_POLL_MS.
      this.emit('watch-error', error);
    }
  }

  unwatch(): void {
    this.watcher?.close();
    this.watcher = undefined;
    this.emit('appended');
  }

  /** Resolves at the next change, or after `ms` at the latest. */
  appended(ms = FOLLOW_POLL_MS): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.off('appended', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.on('appended', done);
    });
  }

  /** A reader of the records written from now on (`end`) or from the oldest kept (`start`, current file). */
  cursor(from: 'start' | 'end'): LogCursor {
    return new LogCursor(this.path, from);
  }

  /** Where the current file ends now: `cursorAt` it later reads what came after (a run's start). */
  async mark(): Promise<LogMark> {
    const info = await unlessAbsent(stat(this.path), undefined);
    return info ? { inode: info.ino, offset: info.size } : { inode: -1, offset: 0 };
  }

  /** A cursor from a mark; when the file was rotated since, from the start of the current file. */
  cursorAt(mark: LogMark): LogCursor {
    return new LogCursor(this.path, 'start', Infinity, mark);
  }

  /**
   * All stored output as lines, oldest first, filtered. `upTo` stops the current file at a
   * follower's starting point (`LogCursor.position`), so what it will send is not sent twice.
   */
  async read(filter: LogFilter, upTo?: number): Promise<LogLine[]> {
    const since = filter.since ? Date.parse(filter.since) : -Infinity;
    const until = filter.until ? Date.parse(filter.until) : Infinity;
    const out: LogLine[] = [];
    const keep = (line: LogLine) => {
      const t = Date.parse(line.time);
      if (t < since || t > until) return;
      if ((line.stream === 'stdout' && !filter.stdout) || (line.stream === 'stderr' && !filter.stderr)) return;
      out.push(line);
    };
    const files = await unlessAbsent(readdir(this.dir), [] as string[]);
    for (const file of rotatedOldestFirst(files, 'container.log')) await readLegacy(join(this.dir, file), keep);
    const lines = new LineAssembler(keep);
    await this.records((r) => lines.push(r), upTo);
    lines.end();
    return filter.tail === undefined ? out : filter.tail === 0 ? [] : out.slice(-filter.tail);
  }

  /** Every stored record, oldest first, as the container wrote it (`upTo` as in `read`); `each` may make the reading wait. */
  async records(each: (record: OutputRecord) => void | Promise<void>, upTo?: number): Promise<void> {
    const files = await unlessAbsent(readdir(this.dir), [] as string[]);
    for (const file of rotatedOldestFirst(files, OUTPUT_LOG_FILE)) {
      const cursor = new LogCursor(join(this.dir, file), 'start', file === OUTPUT_LOG_FILE ? upTo : undefined);
      try {
        // One read at a time, each record handed on before the next read (a stream waiting for credit).
        for (let records = await cursor.next(); records.length; records = await cursor.next()) for (const record of records) await each(record);
      } finally {
        await cursor.close();
      }
    }
  }
}

/** `name.N … name.1, name`: the order they were written in. */
function rotatedOldestFirst(files: string[], name: string): string[] {
  const pattern = new RegExp(`^${name.replace('.', '\\.')}(\\.\\d+)?$`);
  return files.filter((f) => pattern.test(f)).sort((a, b) => Number(b.slice(name.length + 1) || 0) - Number(a.slice(name.length + 1) || 0));
}

/** Records → lines per stream (a line's time is when its first bytes were read). */
class LineAssembler {
  private readonly pending = { stdout: { text: '', time: '' }, stderr: { text: '', time: '' } };

  constructor(private readonly emit: (line: LogLine) => void) {}

  push(record: OutputRecord): void {
    const p = this.pending[record.stream];
    const time = isoOfNs(record.timeNs);
    if (!p.text) p.time = time;
    p.text += record.data.toString('utf8');
    let nl: number;
    while ((nl = p.text.indexOf('\n')) >= 0 || p.text.length >= MAX_LINE) {
      const cut = nl >= 0 && nl < MAX_LINE ? nl + 1 : MAX_LINE;
      this.emit({ stream: record.stream, time: p.time, line: p.text.slice(0, cut) });
      p.text = p.text.slice(cut);
      p.time = time;
    }
  }

  end(): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      const p = this.pending[stream];
      if (p.text) this.emit({ stream, time: p.time, line: p.text });
      p.text = '';
    }
  }
}

/** JSON lines written by agents before the helper captured output (docker json-file style). */
async function readLegacy(file: string, keep: (line: LogLine) => void): Promise<void> {
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  for await (const text of lines) {
    try {
      const entry = JSON.parse(text) as { stream: 'stdout' | 'stderr'; time: string; log: string };
      keep({ stream: entry.stream, time: entry.time, line: entry.log });
    } catch {
      continue; // a line torn by a crash
    }
  }
}

/**
 * Reads whole records from the output log as they are appended, across rotations: at the end of
 * the file it holds, it switches to the new file once the helper rotated (the path names another
 * inode), so nothing between the two is skipped.
 */
export class LogCursor {
  private file?: FileHandle;
  private inode = -1;
  private position = 0;
  private pending = Buffer.alloc(0);

  constructor(
    private readonly path: string,
    private from: 'start' | 'end',
    /** Read the file only up to here. */
    private readonly limit = Infinity,
    /** Start here when the file is still the marked one. */
    private readonly startMark?: LogMark,
  ) {}

  /** Where in the current file the next read starts. */
  get offset(): number {
    return this.position;
  }

  /** Opens the file now (a cursor from `end` then starts at what it holds now). */
  async opened(): Promise<this> {
    if (!this.file) await this.openCurrent();
    return this;
  }

  /** The whole records available now (empty when there are none yet). */
  async next(): Promise<OutputRecord[]> {
    for (let attempt = 0; attempt < 2; attempt++) {
      if (!this.file && !(await this.openCurrent())) return [];
      const file = this.file as FileHandle;
      const wanted = Math.min(READ_BYTES, this.limit - this.position);
      if (wanted <= 0) return [];
      const chunk = Buffer.allocUnsafe(wanted);
      const { bytesRead } = await file.read(chunk, 0, wanted, this.position);
      if (bytesRead > 0) {
        this.position += bytesRead;
        const buffer = this.pending.length ? Buffer.concat([this.pending, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead);
        const { records, consumed, corrupt } = parseOutputRecords(buffer);
        // Copy what waits for the rest of its record: `buffer` may be a view of `chunk`.
        this.pending = corrupt ? Buffer.alloc(0) : Buffer.from(buffer.subarray(consumed));
        if (corrupt) this.position = (await file.stat()).size;
        return records;
      }
      const current = await unlessAbsent(stat(this.path), undefined);
      if (!current || current.ino === this.inode) return [];
      // Rotated: ours is now `.k` (or gone); what followed it is `.k-1`, the oldest left, or the current file.
      const next = await this.successor();
      await this.close();
      this.from = 'start';
      this.nextPath = next;
    }
    return [];
  }

  private nextPath?: string;

  private async successor(): Promise<string | undefined> {
    let oldest: string | undefined;
    for (let k = 1; k <= 1000; k++) {
      const info = await unlessAbsent(stat(`${this.path}.${k}`), undefined);
      if (!info) break;
      if (info.ino === this.inode) return k === 1 ? undefined : `${this.path}.${k - 1}`;
      oldest = `${this.path}.${k}`;
    }
    return oldest; // ours was deleted: everything left came after it
  }

  async close(): Promise<void> {
    await this.file?.close().catch(() => undefined); // already closed: nothing to release
    this.file = undefined;
    this.pending = Buffer.alloc(0);
  }

  private async openCurrent(): Promise<boolean> {
    const path = this.nextPath ?? this.path;
    this.nextPath = undefined;
    try {
      this.file = await open(path, 'r');
    } catch {
      this.from = 'start'; // not written yet: all it will hold is new
      return false;
    }
    const info = await this.file.stat();
    this.inode = info.ino;
    this.position = this.from === 'end' ? info.size : this.startMark?.inode === info.ino ? Math.min(this.startMark.offset, info.size) : 0;
    return true;
  }
}
