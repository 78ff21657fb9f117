import { humanSize } from './format';

/**
 * One line per blob, redrawn in place on a terminal, for pull and push:
 * `sha256:1a2b3c4d5e6f: Copying [=====>     ]` — plain lines when output is not a TTY.
 */
export class ProgressDisplay {
  private readonly blobs = new Map<string, { size: number; state: string }>();
  private drawnLines = 0;

  constructor(private readonly out: NodeJS.WriteStream = process.stdout) {}

  update(event: { status: string; digest?: string; size?: number; host?: string }): void {
    const key = event.digest ?? `host ${event.host}`;
    const label =
      {
        copying: 'Copying',
        copied: 'Copied',
        skipped: 'Already exists',
        prefetching: 'Prefetching',
        prefetched: 'Prefetched',
      }[event.status] ?? event.status;
    this.blobs.set(key, { size: event.size ?? 0, state: label });
    if (!this.out.isTTY) {
      this.out.write(`${short(key)}: ${label}${event.size ? ` ${humanSize(event.size)}` : ''}\n`);
      return;
    }
    this.redraw();
  }

  private redraw(): void {
    if (this.drawnLines) this.out.write(`\x1b[${this.drawnLines}A`);
    const done = [...this.blobs.values()].filter((b) => b.state !== 'Copying' && b.state !== 'Prefetching').length;
    const lines = [...this.blobs.entries()].map(([key, blob]) => `\x1b[2K${short(key)}: ${blob.state.padEnd(15)} ${blob.size ? humanSize(blob.size) : ''}`);
    lines.push(`\x1b[2K${bar(done, this.blobs.size)} ${done}/${this.blobs.size}`);
    this.out.write(lines.join('\n') + '\n');
    this.drawnLines = lines.length;
  }
}

const short = (key: string) => (key.startsWith('sha256:') ? key.slice(7, 19) : key);

export function bar(done: number, total: number, width = 30): string {
  const filled = total ? Math.round((done / total) * width) : width;
  return `[${'='.repeat(Math.max(0, filled - 1))}${filled ? (filled === width ? '=' : '>') : ''}${' '.repeat(width - filled)}]`;
}
