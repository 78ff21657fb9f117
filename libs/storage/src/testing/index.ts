// Test-only entry: import from spec files by relative path (it pulls in Jest globals).
export { describeBlobStore, type BlobStoreFixture } from './blob-store.suite';
export { startS3Server, type RunningS3Server } from './s3rver-harness';
