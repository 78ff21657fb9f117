import { parseDigest } from '@muelle/oci';
import { randomBytes } from 'node:crypto';

/** Content-addressed location of a blob: `blobs/<alg>/<hex[0:2]>/<hex>`, built only from a parsed digest. */
export function blobKey(digest: string): string {
  const { algorithm, encoded } = parseDigest(digest);
  return `blobs/${algorithm}/${encoded.slice(0, 2)}/${encoded}`;
}

/** The digest a CAS key stands for, or null for anything else under `blobs/`. */
export function digestOfBlobKey(key: string): string | null {
  const match = /^blobs\/(sha256|sha512)\/([a-f0-9]{2})\/([a-f0-9]+)$/.exec(key);
  if (!match || !match[3].startsWith(match[2])) return null;
  const digest = `${match[1]}:${match[3]}`;
  try {
    parseDigest(digest);
    return digest;
  } catch {
    // Not a digest: not a blob key.
    return null;
  }
}

/** One received chunk of an upload; the offset in the name keeps a listing readable, the suffix keeps racing writers apart. */
export function uploadPartKey(uploadId: string, offset: number): string {
  return `uploads/${uploadId}/${String(offset).padStart(15, '0')}-${randomBytes(4).toString('hex')}`;
}

/** A large manifest body owned by exactly one manifest row (so deleting the row may delete the object without races). */
export function manifestContentKey(digest: string): string {
  const { algorithm, encoded } = parseDigest(digest);
  return `manifests/${algorithm}/${encoded}/${randomBytes(8).toString('hex')}`;
}
