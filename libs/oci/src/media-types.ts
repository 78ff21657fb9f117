/** Media types of the OCI image spec and Docker image manifest v2 schema 2. */
export const MediaType = {
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  OciConfig: 'application/vnd.oci.image.config.v1+json',
  OciLayerTar: 'application/vnd.oci.image.layer.v1.tar',
  OciLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OciLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  OciLayerNondistributableTar: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  OciLayerNondistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  OciLayerNondistributableZstd: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  /** `{}` (sha256:44136fa3…, size 2): config or layer of artifacts. */
  OciEmpty: 'application/vnd.oci.empty.v1+json',
  OciLayoutHeader: 'application/vnd.oci.layout.header.v1+json',
  /** Dropped from image-spec in 1.1.0-rc3; recognised only to reject it clearly. */
  OciArtifactManifest: 'application/vnd.oci.artifact.manifest.v1+json',

  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  DockerLayerTar: 'application/vnd.docker.image.rootfs.diff.tar',
  DockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  DockerForeignLayerTar: 'application/vnd.docker.image.rootfs.foreign.diff.tar',
  DockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  DockerPluginConfig: 'application/vnd.docker.plugin.v1+json',
  /** Deprecated schema 1 (signed and unsigned): always rejected. */
  DockerSchema1Manifest: 'application/vnd.docker.distribution.manifest.v1+json',
  DockerSchema1SignedManifest: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

export type KnownMediaType = (typeof MediaType)[keyof typeof MediaType];

/** Digest and size of the `{}` empty descriptor. */
export const EMPTY_JSON_DIGEST = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';
export const EMPTY_JSON_SIZE = 2;

export const IMAGE_MANIFEST_MEDIA_TYPES: readonly string[] = [MediaType.OciManifest, MediaType.DockerManifest];
export const INDEX_MEDIA_TYPES: readonly string[] = [MediaType.OciIndex, MediaType.DockerManifestList];
export const SCHEMA1_MEDIA_TYPES: readonly string[] = [MediaType.DockerSchema1Manifest, MediaType.DockerSchema1SignedManifest];
/** Media types a registry accepts on manifest PUT. */
export const MANIFEST_MEDIA_TYPES: readonly string[] = [...IMAGE_MANIFEST_MEDIA_TYPES, ...INDEX_MEDIA_TYPES];

export type LayerCompression = 'none' | 'gzip' | 'zstd';

const LAYER_COMPRESSION: Readonly<Record<string, LayerCompression>> = {
  [MediaType.OciLayerTar]: 'none',
  [MediaType.OciLayerGzip]: 'gzip',
  [MediaType.OciLayerZstd]: 'zstd',
  [MediaType.OciLayerNondistributableTar]: 'none',
  [MediaType.OciLayerNondistributableGzip]: 'gzip',
  [MediaType.OciLayerNondistributableZstd]: 'zstd',
  [MediaType.DockerLayerTar]: 'none',
  [MediaType.DockerLayerGzip]: 'gzip',
  [MediaType.DockerForeignLayerTar]: 'none',
  [MediaType.DockerForeignLayerGzip]: 'gzip',
};

/** Compression of a layer media type, or undefined when it is not a known layer type. */
export function layerCompressionOf(mediaType: string): LayerCompression | undefined {
  return LAYER_COMPRESSION[stripParameters(mediaType)];
}

export function isLayerMediaType(mediaType: string): boolean {
  return layerCompressionOf(mediaType) !== undefined;
}

/**
 * Layers a registry must accept in a manifest without having the blob
 * (non-distributable / foreign layers are fetched from their `urls`).
 */
export function isNondistributableMediaType(mediaType: string): boolean {
  const bare = stripParameters(mediaType);
  return bare.includes('.nondistributable.') || bare.includes('.rootfs.foreign.');
}

export function isImageManifestMediaType(mediaType: string): boolean {
  return IMAGE_MANIFEST_MEDIA_TYPES.includes(stripParameters(mediaType));
}

export function isIndexMediaType(mediaType: string): boolean {
  return INDEX_MEDIA_TYPES.includes(stripParameters(mediaType));
}

/** `Application/JSON; charset=utf-8` → `application/json`. */
export function stripParameters(mediaType: string): string {
  return mediaType.split(';')[0].trim().toLowerCase();
}
