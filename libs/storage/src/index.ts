export type { BlobListEntry, BlobStat, BlobStore, WriteOptions } from './blob-store';
export { resolveByteRange, type ByteRange } from './byte-range';
export {
  BlobNotFoundError,
  InvalidKeyError,
  RangeNotSatisfiableError,
  StorageError,
  StorageFullError,
  StorageUnavailableError,
} from './errors';
export { assertValidKey, assertValidPrefix, MAX_KEY_LENGTH, MAX_SEGMENT_LENGTH } from './keys';
export { FilesystemBlobStore } from './filesystem-blob-store';
export { CopyAbortedError } from './reused-buffer-copy';
// The S3 driver's class is reached through createBlobStore, which loads it (and the minio client) only when configured.
export type { S3BlobStore, S3BlobStoreOptions } from './s3-blob-store';
export {
  createBlobStore,
  type BlobStoreConfig,
  type FilesystemBlobStoreConfig,
  type S3BlobStoreConfig,
} from './create-blob-store';
// Test helper (loads the s3rver dev dependency lazily, only when called).
export { startS3Server, type RunningS3Server } from './testing/s3rver-harness';
