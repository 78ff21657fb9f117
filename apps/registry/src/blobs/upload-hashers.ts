import type { UploadPart, UploadSession } from '@muelle/contracts';
import type { BlobStore } from '@muelle/storage';
import { createHash, type Hash } from 'node:crypto';

const MAX_CACHED = 10_000;

/** A map of at most MAX_CACHED entries; setting one more forgets the oldest set. */
class BoundedMap<V> extends Map<string, V> {
  override set(key: string, value: V): this {
    this.delete(key);
    if (this.size >= MAX_CACHED) {
      const oldest = this.keys().next().value;
      if (oldest !== undefined) this.delete(oldest);
    }
    return super.set(key, value);
  }
}

/**
 * Running sha256 of upload sessions, kept in this process between chunks.
 *
 * Why not a serialized state in metadata: the only serializable hashers available (hash-wasm)
 * run at ~94 MiB/s for sha256 and ~166 MiB/s for sha512 on the CI machine, against ~850 MiB/s
 * for node's native sha256; hashing both in WASM capped pushes at ~57 MiB/s. So the registry
 * hashes natively while streaming and keeps the hasher here; a session continued on another
 * replica or after a restart (hasher missing or at another offset) rebuilds it by re-reading
 * the parts already in the store — correct, only slower, and rare. sha512 digests (rare too)
 * are verified the same way, by re-reading at commit.
 */
export class UploadHashers {
  private readonly cache = new BoundedMap<{ offset: number; hash: Hash }>();

  constructor(private readonly store: BlobStore) {}

  /**
   * Takes the session's hasher positioned at `offset` out of the cache (so two racing requests
   * never share one), or rebuilds it from the parts.
   */
  async claim(uploadId: string, offset: number, parts: UploadPart[]): Promise<Hash> {
    const cached = this.cache.get(uploadId);
    this.cache.delete(uploadId);
    if (cached && cached.offset === offset) return cached.hash;
    return this.rebuild('sha256', parts);
  }

  /** Puts a hasher back after its bytes were accepted at `offset`. */
  release(uploadId: string, offset: number, hash: Hash): void {
    this.cache.set(uploadId, { offset, hash });
  }

  forget(uploadId: string): void {
    this.cache.delete(uploadId);
  }

  /** Hashes the parts as stored, in order. */
  async rebuild(algorithm: 'sha256' | 'sha512', parts: UploadPart[]): Promise<Hash> {
    const hash = createHash(algorithm);
    for (const part of parts) {
      for await (const chunk of await this.store.read(part.key)) hash.update(chunk as Buffer);
    }
    return hash;
  }
}

/**
 * The last state of each upload session this replica saw (after its POST, PATCH or PUT), so the
 * next request of the same client skips one metadata round trip. Entries can be stale when a
 * client moves between replicas; every user is written for that: a chunk's Content-Range that
 * disagrees, a compare-and-set that fails or a digest that does not match sends it back to
 * metadata for the current state before anything is refused.
 */
export class RecentUploadSessions {
  private readonly sessions = new BoundedMap<UploadSession>();

  get(id: string): UploadSession | undefined {
    return this.sessions.get(id);
  }

  remember(session: UploadSession): void {
    this.sessions.set(session.id, session);
  }

  forget(id: string): void {
    this.sessions.delete(id);
  }
}
