import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ConflictError } from '@muelle/contracts';

interface IpamState {
  /** ip → container id */
  leases: Record<string, string>;
  /** last host number handed out: allocation goes round-robin so a freed address is not reused at once */
  last: number;
}

export function parseSubnet(cidr: string): { base: number; prefix: number } {
  const match = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr);
  if (!match) throw new Error(`bad subnet ${cidr}`);
  const [a, b, c, d, prefix] = match.slice(1).map(Number) as [number, number, number, number, number];
  if (prefix < 8 || prefix > 30) throw new Error(`subnet ${cidr}: prefix must be 8..30`);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return { base: ((((a << 24) | (b << 16) | (c << 8) | d) >>> 0) & mask) >>> 0, prefix };
}

export const ipToString = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');

/**
 * Hands out container addresses of one subnet (.1 is the bridge). Leases live in a JSON file that
 * is rewritten atomically on every change, so an agent restart never hands out a leased address.
 */
export class Ipam {
  private state: IpamState = { leases: {}, last: 1 };
  private queue: Promise<unknown> = Promise.resolve();
  private readonly base: number;
  private readonly size: number;

  constructor(
    private readonly file: string,
    subnet: string,
  ) {
    const { base, prefix } = parseSubnet(subnet);
    this.base = base;
    this.size = 2 ** (32 - prefix);
  }

  get gateway(): string {
    return ipToString(this.base + 1);
  }

  async load(): Promise<void> {
    try {
      this.state = JSON.parse(await readFile(this.file, 'utf8')) as IpamState;
    } catch {
      // No state yet (first start on this host): every address is free.
      this.state = { leases: {}, last: 1 };
    }
  }

  private locked<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined); // the queue only orders work; the caller gets `next` and its error
    return next;
  }

  private async save(): Promise<void> {
    await mkdir(dirname(this.file), { recursive: true });
    await writeFile(`${this.file}.tmp`, JSON.stringify(this.state));
    await rename(`${this.file}.tmp`, this.file);
  }

  /** The container's existing lease, or a new address. */
  allocate(containerId: string): Promise<string> {
    return this.locked(async () => {
      const existing = Object.entries(this.state.leases).find(([, owner]) => owner === containerId);
      if (existing) return existing[0];
      for (let step = 1; step < this.size - 2; step++) {
        const host = ((this.state.last - 1 + step) % (this.size - 3)) + 2; // 2 .. size-2 (not network, gateway, broadcast)
        const ip = ipToString(this.base + host);
        if (this.state.leases[ip]) continue;
        this.state.leases[ip] = containerId;
        this.state.last = host;
        await this.save();
        return ip;
      }
      throw new ConflictError('no free address left in the container subnet');
    });
  }

  release(containerId: string): Promise<void> {
    return this.locked(async () => {
      let changed = false;
      for (const [ip, owner] of Object.entries(this.state.leases)) {
        if (owner === containerId) {
          delete this.state.leases[ip];
          changed = true;
        }
      }
      if (changed) await this.save();
    });
  }

  leases(): Record<string, string> {
    return { ...this.state.leases };
  }
}
