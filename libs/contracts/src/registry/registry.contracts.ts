import { z } from 'zod';
import { defineRequest } from '../contract';
import { IsoDate } from '../common';

/**
 * What the registry asks metadata about: repositories, blob membership, manifests, tags,
 * referrers, upload sessions and garbage collection. Bytes never travel here (except small
 * manifests, inline): they live in the registry's blob store.
 *
 * Errors that the OCI edge must answer with a specific spec code carry it in
 * `details.registryCode` (e.g. MANIFEST_BLOB_UNKNOWN, NAME_UNKNOWN), so the mapping stays in
 * the registry's one error table.
 */

// Same grammar as libs/oci (kept here so the contracts stay dependency-free).
const PATH_COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
export const RegistryRepositoryName = z
  .string()
  .max(255)
  .regex(new RegExp(`^${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`), 'not a repository name');
export const RegistryDigest = z.string().regex(/^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/, 'not a sha256/sha512 digest');
export const RegistryTag = z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/, 'not a tag');
/** Storage keys the registry generated itself (upload parts, large manifest bodies). */
export const RegistryStorageKey = z.string().regex(/^(uploads|manifests)\/[A-Za-z0-9._/-]{1,400}$/, 'not a registry storage key');
const MediaTypeString = z.string().min(3).max(255);

/** Manifests bigger than this are stored in the blob store; smaller ones inline in metadata (NATS caps messages at 1 MiB). */
export const INLINE_MANIFEST_LIMIT = 256 * 1024;

export const RegistryErrorCode = z.enum([
  'BLOB_UNKNOWN',
  'BLOB_UPLOAD_UNKNOWN',
  'MANIFEST_UNKNOWN',
  'MANIFEST_BLOB_UNKNOWN',
  'NAME_UNKNOWN',
  'BLOB_BEING_COLLECTED',
]);
export type RegistryErrorCode = z.infer<typeof RegistryErrorCode>;

// ---------------------------------------------------------------- repositories

/** `shared`: an admin made it pullable by every signed-in user (like `library/…`). */
export const RepositoryRecord = z.object({ name: RegistryRepositoryName, anonymousPull: z.boolean(), shared: z.boolean(), createdAt: IsoDate });
export type RepositoryRecord = z.infer<typeof RepositoryRecord>;

export const getRepository = defineRequest('muelle.metadata.registry.repositories.get.v1', z.object({ name: RegistryRepositoryName }), RepositoryRecord);

/** Creates the repository when missing. */
export const setRepositoryAnonymousPull = defineRequest(
  'muelle.metadata.registry.repositories.anonymous-pull.v1',
  z.object({ name: RegistryRepositoryName, anonymousPull: z.boolean() }),
  RepositoryRecord,
);

/** Creates the repository when missing (the api checks it exists first). */
export const setRepositoryShared = defineRequest(
  'muelle.metadata.registry.repositories.shared.v1',
  z.object({ name: RegistryRepositoryName, shared: z.boolean() }),
  RepositoryRecord,
);

/** One page of names; `shared` and `anonymousPull` list the names of the page with that setting, so readers can filter by visibility. */
export const listCatalog = defineRequest(
  'muelle.metadata.registry.catalog.list.v1',
  z.object({ n: z.number().int().min(0).max(1000), last: z.string().max(255).optional() }),
  z.object({
    repositories: z.array(RegistryRepositoryName),
    hasMore: z.boolean(),
    shared: z.array(RegistryRepositoryName).default([]),
    anonymousPull: z.array(RegistryRepositoryName).default([]),
  }),
);

// ---------------------------------------------------------------- blobs

export const UploadPart = z.object({ key: RegistryStorageKey, size: z.number().int().nonnegative() });
export type UploadPart = z.infer<typeof UploadPart>;
const UploadId = z.string().uuid();

const BlobRef = z.object({ repository: RegistryRepositoryName, digest: RegistryDigest });
const BlobInfo = z.object({ digest: RegistryDigest, size: z.number().int().nonnegative() });

/** The blob as a member of the repository; NOT_FOUND (BLOB_UNKNOWN) otherwise. */
export const statBlob = defineRequest('muelle.metadata.registry.blobs.stat.v1', BlobRef, BlobInfo);

/**
 * Records a verified blob (already in the blob store) as a member of the repository, creating
 * the repository when missing. UNAVAILABLE (BLOB_BEING_COLLECTED) while GC deletes that digest.
 * With `upload`: that upload session is closed in the same statement (one round trip per blob
 * instead of two) and its parts come back as `closedParts` (absent when the session was already
 * gone). A refused commit leaves the session as it was.
 */
export const commitBlob = defineRequest(
  'muelle.metadata.registry.blobs.commit.v1',
  BlobRef.extend({ size: z.number().int().nonnegative(), upload: UploadId.optional() }),
  BlobInfo.extend({ closedParts: z.array(UploadPart).optional() }),
);

/** Links a blob of `from` into `repository`; `mounted: false` when `from` lacks it. */
export const mountBlob = defineRequest(
  'muelle.metadata.registry.blobs.mount.v1',
  BlobRef.extend({ from: RegistryRepositoryName }),
  z.object({ mounted: z.boolean(), size: z.number().int().nonnegative().nullable() }),
);

/** Unlinks the blob from the repository (bytes go at the next GC when unreferenced). */
export const deleteBlob = defineRequest('muelle.metadata.registry.blobs.delete.v1', BlobRef, z.object({ deleted: z.literal(true) }));

// ---------------------------------------------------------------- manifests, tags, referrers

export const putManifest = defineRequest(
  'muelle.metadata.registry.manifests.put.v1',
  z.object({
    repository: RegistryRepositoryName,
    digest: RegistryDigest,
    mediaType: MediaTypeString,
    size: z.number().int().nonnegative().max(4 * 1024 * 1024),
    /** Base64 of the exact bytes when ≤ INLINE_MANIFEST_LIMIT; else `contentKey` names the stored copy. */
    content: z.string().max(Math.ceil(INLINE_MANIFEST_LIMIT / 3) * 4 + 4).optional(),
    contentKey: RegistryStorageKey.optional(),
    tags: z.array(RegistryTag).max(100),
    subjectDigest: RegistryDigest.optional(),
    artifactType: MediaTypeString.optional(),
    annotations: z.record(z.string(), z.string()).optional(),
    configDigest: RegistryDigest.optional(),
    /** Blobs that must be members of the repository (config, distributable layers). */
    blobs: z.array(RegistryDigest).max(10_000),
    /** Manifests that must exist in the repository (index children). */
    manifests: z.array(RegistryDigest).max(10_000),
  }),
  /** `unusedContentKey`: the caller's stored copy is not needed (the manifest already existed) and may be deleted. */
  z.object({ digest: RegistryDigest, created: z.boolean(), unusedContentKey: RegistryStorageKey.nullable() }),
  15_000,
);

export const ManifestRecord = z.object({
  digest: RegistryDigest,
  mediaType: MediaTypeString,
  size: z.number().int().nonnegative(),
  content: z.string().optional(),
  contentKey: RegistryStorageKey.optional(),
});
export type ManifestRecord = z.infer<typeof ManifestRecord>;

const ManifestRef = z.object({ repository: RegistryRepositoryName, reference: z.union([RegistryDigest, RegistryTag]) });

/** By tag or digest; NOT_FOUND (MANIFEST_UNKNOWN) otherwise. */
export const getManifest = defineRequest('muelle.metadata.registry.manifests.get.v1', ManifestRef, ManifestRecord);

/** By tag: removes only the tag. By digest: removes the manifest and every tag on it. */
export const deleteManifest = defineRequest(
  'muelle.metadata.registry.manifests.delete.v1',
  ManifestRef,
  z.object({ deletedContentKeys: z.array(RegistryStorageKey) }),
);

/** Tags in byte order, strictly after `last`; NOT_FOUND (NAME_UNKNOWN) for an unknown repository. */
export const listTags = defineRequest(
  'muelle.metadata.registry.tags.list.v1',
  z.object({ repository: RegistryRepositoryName, n: z.number().int().min(0).max(10_000), last: z.string().max(128).optional() }),
  z.object({ tags: z.array(RegistryTag), hasMore: z.boolean() }),
);

export const ReferrerDescriptor = z.object({
  mediaType: MediaTypeString,
  digest: RegistryDigest,
  size: z.number().int().nonnegative(),
  artifactType: MediaTypeString.optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

/** Manifests of the repository whose `subject` is `digest`; empty (never NOT_FOUND) when none. */
export const listReferrers = defineRequest(
  'muelle.metadata.registry.referrers.list.v1',
  z.object({ repository: RegistryRepositoryName, digest: RegistryDigest, artifactType: MediaTypeString.optional() }),
  z.object({ manifests: z.array(ReferrerDescriptor) }),
);

// ---------------------------------------------------------------- upload sessions

// UploadPart and UploadId are defined with the blobs (commitBlob closes an upload).

export const UploadSession = z.object({
  id: UploadId,
  repository: RegistryRepositoryName,
  principal: z.string().nullable(),
  offset: z.number().int().nonnegative(),
  parts: z.array(UploadPart).max(100_000),
  startedAt: IsoDate,
  updatedAt: IsoDate,
});
export type UploadSession = z.infer<typeof UploadSession>;

export const createUpload = defineRequest(
  'muelle.metadata.registry.uploads.create.v1',
  z.object({ id: UploadId, repository: RegistryRepositoryName, principal: z.string().max(128).nullable() }),
  UploadSession,
);

/** NOT_FOUND (BLOB_UPLOAD_UNKNOWN) for an unknown or purged session. */
export const getUpload = defineRequest('muelle.metadata.registry.uploads.get.v1', z.object({ id: UploadId }), UploadSession);

/**
 * Compare-and-set: appends parts and moves the offset only if the session is still at
 * `expectedOffset`; CONFLICT otherwise (a concurrent or replayed chunk), so no byte is lost.
 */
export const advanceUpload = defineRequest(
  'muelle.metadata.registry.uploads.advance.v1',
  z.object({
    id: UploadId,
    expectedOffset: z.number().int().nonnegative(),
    part: UploadPart,
  }),
  UploadSession,
);

/** Removes the session; returns its parts so the caller deletes their bytes. */
export const deleteUpload = defineRequest('muelle.metadata.registry.uploads.delete.v1', z.object({ id: UploadId }), z.object({ parts: z.array(UploadPart) }));

/** Removes sessions idle for longer than `idleSeconds`; returns them for byte cleanup. */
export const expireUploads = defineRequest(
  'muelle.metadata.registry.uploads.expire.v1',
  z.object({ idleSeconds: z.number().positive(), limit: z.number().int().min(1).max(1000) }),
  z.object({ sessions: z.array(z.object({ id: UploadId, parts: z.array(UploadPart) })) }),
);

// ---------------------------------------------------------------- garbage collection

/**
 * GC phase 1. Deletes untagged manifests older than `untaggedManifestSeconds` (when set) that no
 * index references and that are not referrers of an existing subject; unlinks repository
 * memberships older than `graceSeconds` that no manifest uses; then MARKS for deletion the
 * digests no manifest references and nothing touched within `graceSeconds`, plus the given
 * `orphanDigests` (stored bytes without any row). While marked, commits and mounts of a digest
 * fail with BLOB_BEING_COLLECTED, so the caller can delete the bytes safely.
 */
export const markGarbage = defineRequest(
  'muelle.metadata.registry.gc.mark.v1',
  z.object({
    graceSeconds: z.number().nonnegative(),
    untaggedManifestSeconds: z.number().nonnegative().nullable(),
    orphanDigests: z.array(RegistryDigest).max(1000),
    limit: z.number().int().min(1).max(1000),
  }),
  z.object({ digests: z.array(RegistryDigest), deletedManifests: z.number().int(), manifestContentKeys: z.array(RegistryStorageKey) }),
  60_000,
);

/** GC phase 2: the bytes of these marked digests are gone; drop their rows and marks. */
export const confirmGarbage = defineRequest(
  'muelle.metadata.registry.gc.confirm.v1',
  z.object({ digests: z.array(RegistryDigest).max(1000) }),
  z.object({ removed: z.number().int() }),
);

/** Which of these digests have a blob row (for the orphan sweep of stored bytes). */
export const knownBlobs = defineRequest(
  'muelle.metadata.registry.blobs.known.v1',
  z.object({ digests: z.array(RegistryDigest).max(1000) }),
  z.object({ known: z.array(RegistryDigest) }),
);

// ---------------------------------------------------------------- auth

/** The HMAC key registry tokens are signed with, generated once and shared by every replica. */
export const registrySigningKey = defineRequest('muelle.metadata.registry.signing-key.v1', z.object({}), z.object({ key: z.string().min(32) }));

// ---------------------------------------------------------------- served by the registry

/** Bounds of an on-demand collection's grace period: up to 30 days. */
const GRACE_SECONDS_MAX = 30 * 24 * 3600;

/**
 * One garbage collection now (`muelle system prune`), answered by one registry replica: with
 * `graceSeconds` 0 and `untaggedManifests`, an image deleted a moment ago frees its bytes at once.
 * `freedBytes` counts deleted blobs and stored manifest bodies.
 */
export const collectRegistryGarbage = defineRequest(
  'muelle.registry.gc.run.v1',
  z.object({ graceSeconds: z.number().int().nonnegative().max(GRACE_SECONDS_MAX), untaggedManifests: z.boolean() }),
  z.object({
    deletedManifests: z.number().int().nonnegative(),
    deletedBlobs: z.number().int().nonnegative(),
    purgedUploads: z.number().int().nonnegative(),
    freedBytes: z.number().int().nonnegative(),
  }),
  10 * 60_000,
);
