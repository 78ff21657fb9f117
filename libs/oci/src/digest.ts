import { createHash } from 'node:crypto';
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
