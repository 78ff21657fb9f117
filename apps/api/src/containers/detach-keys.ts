import { InvalidArgumentError } from '@muelle/contracts';

/** Docker's default: ctrl-p ctrl-q. */
export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

/**
 * Docker's `detachKeys` (`ctrl-p,ctrl-q`, `ctrl-a,d`, …) as bytes: `ctrl-<x>` is x's control code
 * (a-z, @, [, \\, ], ^, _), a single character is itself.
 */
export function parseDetachKeys(spec: string): Buffer {
  const bytes: number[] = [];
  for (const key of spec.split(',')) {
    const k = key.trim().toLowerCase();
    const ctrl = /^ctrl-(.)$/.exec(k);
    if (ctrl) {
      const code = (ctrl[1] as string).toUpperCase().charCodeAt(0);
      if (code < 0x40 || code > 0x5f) throw new InvalidArgumentError(`detachKeys: invalid key "${key}" (ctrl- takes a-z, @, [, \\, ], ^ or _)`);
      bytes.push(code & 0x1f);
    } else if (k.length === 1) {
      bytes.push(k.charCodeAt(0));
    } else {
      throw new InvalidArgumentError(`detachKeys: invalid key "${key}" (a letter or ctrl-<letter>)`);
    }
  }
  if (!bytes.length) throw new InvalidArgumentError('detachKeys: empty');
  return Buffer.from(bytes);
}

/**
 * Watches the input for the detach sequence, as Docker's daemon does: bytes that may begin the
 * sequence are held back until it is complete (detach: they are dropped) or broken (they go on).
 */
export class DetachKeysFilter {
  private matched = 0;

  constructor(private readonly sequence: Buffer) {}

  /** What to pass on, and whether the sequence was completed (then nothing after it is passed). */
  push(chunk: Buffer): { forward: Buffer; detach: boolean } {
    const out: number[] = [];
    for (const byte of chunk) {
      if (byte === this.sequence[this.matched]) {
        this.matched++;
        if (this.matched === this.sequence.length) return { forward: Buffer.from(out), detach: true };
        continue;
      }
      // Broken: the held bytes were input after all (and this byte may start a new match).
      for (let i = 0; i < this.matched; i++) out.push(this.sequence[i] as number);
      this.matched = 0;
      if (byte === this.sequence[0]) this.matched = 1;
      else out.push(byte);
    }
    return { forward: Buffer.from(out), detach: false };
  }
}
