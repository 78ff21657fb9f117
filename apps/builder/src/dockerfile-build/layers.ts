import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import { MediaType, type ImageConfig } from '@muelle/oci';
import type { BuildSession, StageState } from './build-session';
import { copyTree, diffTrees } from './fs-tree';
import type { BuilderStore, StoredLayer } from './store';

export interface BuiltImage {
  config: ImageConfig;
  configBytes: Buffer;
  configDigest: string;
  manifestBytes: Buffer;
  manifestDigest: string;
}

/**
 * A step that changes files: a copy of the parent's root file system in a work directory, the
 * change, then the diff against the parent (ctime marks what the step touched). The work
 * directory becomes the new state's snapshot. No layer when nothing changed.
 */
export async function changeFiles(session: BuildSession, parent: StageState, change: (root: string) => Promise<void>): Promise<StoredLayer | undefined> {
  const { store } = session.deps;
  const lower = await store.snapshot(parent.layers);
  const work = await store.workDir();
  try {
    await copyTree(lower, work);
    const since = await ctimeMarker(store);
    await change(work);
    const entries = await diffTrees(lower, work, { changedSinceNs: since });
    if (entries.length === 0) return undefined;
    const layer = await store.writeLayer(entries, session.options.sourceDateEpoch, session.lease);
    await store.adoptSnapshot(work, [...parent.layers, layer]);
    return layer;
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}

/** A marker file's ctime, taken after a pause longer than a coarse-clock tick: anything changed later has a ctime at or after it. */
async function ctimeMarker(store: BuilderStore): Promise<bigint> {
  await new Promise((r) => setTimeout(r, 25));
  const marker = store.tempPath('marker');
  await fs.writeFile(marker, '');
  const stat = await fs.stat(marker, { bigint: true });
  await fs.rm(marker, { force: true });
  return stat.ctimeNs;
}

/** The final stage as an OCI image: config and manifest bytes (the config is stored; layers already are). */
export async function imageOf(session: BuildSession, state: StageState): Promise<BuiltImage> {
  const config: ImageConfig = {
    created: session.created(state.history.at(-1)?.created),
    ...(state.base.author !== undefined && { author: state.base.author }),
    architecture: state.base.architecture,
    os: state.base.os,
    ...(state.base.variant !== undefined && { variant: state.base.variant }),
    config: state.config,
    rootfs: { type: 'layers', diff_ids: state.layers.map((l) => l.diffId) },
    history: state.history,
  };
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDigest = `sha256:${createHash('sha256').update(configBytes).digest('hex')}`;
  await session.deps.store.putBytes(configDigest, configBytes);
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: configDigest, size: configBytes.length },
    layers: state.layers.map((l) => ({ mediaType: ociLayerType(l.mediaType), digest: l.digest, size: l.size })),
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  const manifestDigest = `sha256:${createHash('sha256').update(manifestBytes).digest('hex')}`;
  return { config, configBytes, configDigest, manifestBytes, manifestDigest };
}

function ociLayerType(mediaType: string): string {
  if (mediaType === MediaType.DockerLayerGzip) return MediaType.OciLayerGzip;
  if (mediaType === MediaType.DockerLayerTar) return MediaType.OciLayerTar;
  return mediaType;
}
