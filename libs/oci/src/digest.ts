import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { createSHA256, createSHA512, type IHasher } from 'hash-wasm';
import { DigesterFinalizedError, DigesterStateError } from './errors';
import { type DigestAlgorithm, parseDigest } from './grammar';

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** `sha256:<hex>` (or sha512) of a whole buffer. */
export function digestOf(data: Uint8Array | string, algorithm: DigestAlgorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}

/** True when `data` hashes to `digest` with the digest's own algorithm. Throws InvalidDigestError on a malformed digest. */
export function matchesDigest(data: Uint8Array | string, digest: string): boolean {
  const { algorithm } = parseDigest(digest);
  return digestOf(data, algorithm) === digest;
}

/**
 * ChainIDs of a layer stack (image-spec `config.md`): ChainID(L0) = DiffID(L0),
 * ChainID(L0..n) = sha256(ChainID(L0..n-1) + " " + DiffID(Ln)). The agent keys
 * unpacked root filesystems by these.
 */
export function chainIdsOf(diffIds: readonly string[]): string[] {
  const chain: string[] = [];
  for (const diffId of diffIds) {
    parseDigest(diffId);
    const previous = chain[chain.length - 1];
    chain.push(previous === undefined ? diffId : digestOf(`${previous} ${diffId}`));
  }
  return chain;
}

export interface DigestPair {
  sha256: string;
  sha512: string;
}

// Serialized state layout, all integers big-endian:
//   0  magic "MDG1"
//   4  uint64  bytes hashed so far
//  12  uint32  length A of the sha256 state, then A bytes
//      uint32  length B of the sha512 state, then B bytes
//      32 bytes sha256 of everything above: hash-wasm only checks which WASM
//      build wrote a state, so a corrupted row would otherwise go unnoticed.
const STATE_MAGIC = Buffer.from('MDG1', 'ascii');
const STATE_SIZE_OFFSET = 4;
const STATE_FIRST_LENGTH_OFFSET = 12;
const STATE_CHECKSUM_LENGTH = 32;

/**
 * Hashes a byte stream with sha256 AND sha512 at once (the registry must verify
 * either kind of client digest at commit without re-reading the blob). Its
 * state can be saved into a Buffer and restored in another process, so a
 * chunked upload can continue on another registry replica.
 *
 * hash-wasm states embed a checksum of the WASM binary: a state saved by one
 * hash-wasm build cannot be loaded by another (DigesterStateError).
 */
export class Digester {
  private finalized: DigestPair | undefined;

  private constructor(
    private readonly sha256: IHasher,
    private readonly sha512: IHasher,
    private byteCount: number,
  ) {}

  static async create(): Promise<Digester> {
    const [a, b] = await Promise.all([createSHA256(), createSHA512()]);
    a.init();
    b.init();
    return new Digester(a, b, 0);
  }

  /** Restores a state produced by `saveState()`, possibly in another process. */
  static async restore(state: Uint8Array): Promise<Digester> {
    const whole = Buffer.from(state.buffer, state.byteOffset, state.byteLength);
    if (whole.length < STATE_FIRST_LENGTH_OFFSET + 8 + STATE_CHECKSUM_LENGTH || !whole.subarray(0, 4).equals(STATE_MAGIC)) {
      throw new DigesterStateError('not a saved digester state (bad magic or too short)');
    }
    const buffer = whole.subarray(0, whole.length - STATE_CHECKSUM_LENGTH);
    if (!createHash('sha256').update(buffer).digest().equals(whole.subarray(buffer.length))) {
      throw new DigesterStateError('saved digester state is corrupt (checksum mismatch)');
    }
    const size = Number(buffer.readBigUInt64BE(STATE_SIZE_OFFSET));
    let offset = STATE_FIRST_LENGTH_OFFSET;
    const readPart = (label: string): Uint8Array => {
      if (offset + 4 > buffer.length) throw new DigesterStateError(`truncated state before the ${label} part`);
      const length = buffer.readUInt32BE(offset);
      offset += 4;
      if (offset + length > buffer.length) throw new DigesterStateError(`truncated ${label} state`);
      const part = new Uint8Array(buffer.subarray(offset, offset + length));
      offset += length;
      return part;
    };
    const state256 = readPart('sha256');
    const state512 = readPart('sha512');
    if (offset !== buffer.length) throw new DigesterStateError('trailing bytes after the saved state');
    const [a, b] = await Promise.all([createSHA256(), createSHA512()]);
    try {
      a.load(state256);
      b.load(state512);
    } catch (error) {
      throw new DigesterStateError(`hash-wasm refused the saved state: ${(error as Error).message}`);
    }
    return new Digester(a, b, size);
  }

  /** Number of bytes hashed so far. */
  get size(): number {
    return this.byteCount;
  }

  update(chunk: Uint8Array): this {
    if (this.finalized) throw new DigesterFinalizedError();
    this.sha256.update(chunk);
    this.sha512.update(chunk);
    this.byteCount += chunk.byteLength;
    return this;
  }

  saveState(): Buffer {
    if (this.finalized) throw new DigesterFinalizedError();
    const a = this.sha256.save();
    const b = this.sha512.save();
    const header = Buffer.alloc(STATE_FIRST_LENGTH_OFFSET);
    STATE_MAGIC.copy(header, 0);
    header.writeBigUInt64BE(BigInt(this.byteCount), STATE_SIZE_OFFSET);
    const lengthA = Buffer.alloc(4);
    lengthA.writeUInt32BE(a.byteLength);
    const lengthB = Buffer.alloc(4);
    lengthB.writeUInt32BE(b.byteLength);
    const body = Buffer.concat([header, lengthA, a, lengthB, b]);
    return Buffer.concat([body, createHash('sha256').update(body).digest()]);
  }

  /** Finishes hashing; later calls return the same pair, `update` then throws. */
  digests(): DigestPair {
    if (!this.finalized) {
      this.finalized = {
        sha256: `sha256:${this.sha256.digest('hex')}`,
        sha512: `sha512:${this.sha512.digest('hex')}`,
      };
    }
    return this.finalized;
  }

  digest(algorithm: DigestAlgorithm): string {
    return this.digests()[algorithm];
  }

  /** True when the hashed bytes match `digest` (sha256 or sha512). Finalizes the digester. */
  matches(digest: string): boolean {
    const { algorithm } = parseDigest(digest);
    return this.digest(algorithm) === digest;
  }

  /** A pass-through stream that feeds every chunk into this digester. */
  transform(): Transform {
    return new Transform({
      transform: (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) => {
        try {
          this.update(chunk);
          callback(null, chunk);
        } catch (error) {
          callback(error as Error);
        }
      },
    });
  }
}
