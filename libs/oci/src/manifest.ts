import { ImageConfigInvalidError, InvalidDigestError, ManifestInvalidError } from './errors';
import { parseDigest } from './grammar';
import { MANIFEST_MEDIA_TYPES, MediaType, SCHEMA1_MEDIA_TYPES, isIndexMediaType, stripParameters } from './media-types';

/** Registries must accept manifests of at least this size and answer 413 above their limit. */
export const MAX_MANIFEST_SIZE = 4 * 1024 * 1024;

/** Largest image config read into memory: real ones are a few KiB, a long history stays far below. */
export const MAX_IMAGE_CONFIG_SIZE = 8 * 1024 * 1024;

/** A config blob's bytes, refused once past MAX_IMAGE_CONFIG_SIZE (a blob's size is the pusher's choice). */
export async function readImageConfigBytes(source: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of source) {
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    size += bytes.length;
    if (size > MAX_IMAGE_CONFIG_SIZE) throw new ImageConfigInvalidError(`image config is larger than ${MAX_IMAGE_CONFIG_SIZE} bytes`);
    chunks.push(bytes);
  }
  return Buffer.concat(chunks, size);
}

export interface Platform {
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
  features?: string[];
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  /** Base64 of the content, embedded. */
  data?: string;
  artifactType?: string;
  platform?: Platform;
}

interface ManifestCommon {
  schemaVersion: 2;
  /** The effective media type: the `mediaType` field, else the Content-Type, else inferred from the shape. */
  mediaType: string;
  subject?: Descriptor;
  artifactType?: string;
  annotations?: Record<string, string>;
  /** Descriptors of blobs this document needs (config + layers); empty for an index. */
  referencedBlobs: Descriptor[];
  /** Descriptors of manifests this document needs (index children); empty for an image manifest. */
  referencedManifests: Descriptor[];
}

export interface ParsedImageManifest extends ManifestCommon {
  kind: 'manifest';
  config: Descriptor;
  layers: Descriptor[];
}

export interface ParsedImageIndex extends ManifestCommon {
  kind: 'index';
  manifests: Descriptor[];
}

export type ParsedManifest = ParsedImageManifest | ParsedImageIndex;

// Content types that say nothing about which manifest kind the body is.
const GENERIC_CONTENT_TYPES = new Set(['', 'application/json', 'application/octet-stream', 'text/plain']);
// RFC 6838 restricted-name for type and subtype; parameters are tolerated and ignored.
const MEDIA_TYPE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;
const BASE64_PATTERN = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Validates a manifest or index body as a registry must before storing it
 * (distribution-spec push rules, SEC-5): JSON object, schemaVersion 2, a
 * `mediaType` consistent with the Content-Type, well-formed descriptors.
 * Unknown fields are allowed. Schema 1 is rejected.
 */
export function parseManifest(bytes: Buffer, contentType?: string): ParsedManifest {
  const declaredType = contentType === undefined ? '' : stripParameters(contentType);
  const headerType = GENERIC_CONTENT_TYPES.has(declaredType) ? undefined : declaredType;
  if (headerType !== undefined && SCHEMA1_MEDIA_TYPES.includes(headerType)) {
    throw new ManifestInvalidError('MANIFEST_INVALID', 'Docker schema 1 manifests are not supported');
  }

  let document: unknown;
  try {
    document = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new ManifestInvalidError('MANIFEST_INVALID', `body is not valid JSON: ${(error as Error).message}`);
  }
  if (!isPlainObject(document)) throw new ManifestInvalidError('MANIFEST_INVALID', 'body must be a JSON object');

  if (document.schemaVersion === 1) throw new ManifestInvalidError('MANIFEST_INVALID', 'Docker schema 1 manifests are not supported', 'schemaVersion');
  if (document.schemaVersion !== 2) throw new ManifestInvalidError('MANIFEST_INVALID', 'must be 2', 'schemaVersion');

  let fieldType: string | undefined;
  if (document.mediaType !== undefined) {
    if (typeof document.mediaType !== 'string') throw new ManifestInvalidError('MANIFEST_INVALID', 'must be a string', 'mediaType');
    fieldType = stripParameters(document.mediaType);
    if (SCHEMA1_MEDIA_TYPES.includes(fieldType)) throw new ManifestInvalidError('MANIFEST_INVALID', 'Docker schema 1 manifests are not supported', 'mediaType');
    if (headerType !== undefined && headerType !== fieldType) {
      throw new ManifestInvalidError('MANIFEST_INVALID', `"${document.mediaType}" does not match Content-Type "${headerType}"`, 'mediaType');
    }
  }

  const mediaType = fieldType ?? headerType ?? inferMediaType(document);
  if (!MANIFEST_MEDIA_TYPES.includes(mediaType)) {
    throw new ManifestInvalidError('UNSUPPORTED', `manifest media type "${mediaType}" is not supported`, 'mediaType');
  }

  const common = {
    schemaVersion: 2 as const,
    mediaType,
    ...(document.subject !== undefined && { subject: readDescriptor(document.subject, 'subject') }),
    ...(document.artifactType !== undefined && { artifactType: readMediaType(document.artifactType, 'artifactType') }),
    ...(document.annotations !== undefined && { annotations: readStringMap(document.annotations, 'annotations') }),
  };

  if (isIndexMediaType(mediaType)) {
    if (!Array.isArray(document.manifests)) throw new ManifestInvalidError('MANIFEST_INVALID', 'an index needs a "manifests" array', 'manifests');
    const manifests = document.manifests.map((child, i) => readDescriptor(child, `manifests[${i}]`));
    return { kind: 'index', ...common, manifests, referencedBlobs: [], referencedManifests: manifests };
  }

  if (document.config === undefined) throw new ManifestInvalidError('MANIFEST_INVALID', 'an image manifest needs a "config" descriptor', 'config');
  const config = readDescriptor(document.config, 'config');
  if (!Array.isArray(document.layers)) throw new ManifestInvalidError('MANIFEST_INVALID', 'an image manifest needs a "layers" array', 'layers');
  const layers = document.layers.map((layer, i) => readDescriptor(layer, `layers[${i}]`));
  return { kind: 'manifest', ...common, config, layers, referencedBlobs: [config, ...layers], referencedManifests: [] };
}

function inferMediaType(document: Record<string, unknown>): string {
  if (Array.isArray(document.manifests)) return MediaType.OciIndex;
  if (document.config !== undefined || Array.isArray(document.layers)) return MediaType.OciManifest;
  throw new ManifestInvalidError('MANIFEST_INVALID', 'no mediaType and no Content-Type, and the body is neither an index nor an image manifest');
}

/** Checks one descriptor; `field` names it in error messages. */
export function readDescriptor(value: unknown, field: string): Descriptor {
  if (!isPlainObject(value)) throw new ManifestInvalidError('MANIFEST_INVALID', 'descriptor must be a JSON object', field);
  const mediaType = readMediaType(value.mediaType, `${field}.mediaType`);
  if (value.digest === undefined) throw new ManifestInvalidError('MANIFEST_INVALID', 'missing', `${field}.digest`);
  if (typeof value.digest !== 'string') throw new ManifestInvalidError('DIGEST_INVALID', 'must be a digest string', `${field}.digest`);
  try {
    parseDigest(value.digest);
  } catch (error) {
    if (error instanceof InvalidDigestError) throw new ManifestInvalidError('DIGEST_INVALID', error.message, `${field}.digest`);
    throw error;
  }
  if (typeof value.size !== 'number' || !Number.isSafeInteger(value.size) || value.size < 0) {
    throw new ManifestInvalidError('MANIFEST_INVALID', 'must be an integer >= 0', `${field}.size`);
  }
  const descriptor: Descriptor = { mediaType, digest: value.digest, size: value.size };
  if (value.urls !== undefined) {
    if (!Array.isArray(value.urls) || !value.urls.every((u) => typeof u === 'string')) {
      throw new ManifestInvalidError('MANIFEST_INVALID', 'must be an array of strings', `${field}.urls`);
    }
    descriptor.urls = value.urls as string[];
  }
  if (value.annotations !== undefined) descriptor.annotations = readStringMap(value.annotations, `${field}.annotations`);
  if (value.data !== undefined) {
    if (typeof value.data !== 'string' || !BASE64_PATTERN.test(value.data)) {
      throw new ManifestInvalidError('MANIFEST_INVALID', 'must be a base64 string', `${field}.data`);
    }
    descriptor.data = value.data;
  }
  if (value.artifactType !== undefined) descriptor.artifactType = readMediaType(value.artifactType, `${field}.artifactType`);
  if (value.platform !== undefined) descriptor.platform = readPlatform(value.platform, `${field}.platform`);
  return descriptor;
}

function readMediaType(value: unknown, field: string): string {
  if (typeof value !== 'string' || !MEDIA_TYPE_PATTERN.test(value.split(';')[0].trim())) {
    throw new ManifestInvalidError('MANIFEST_INVALID', 'must be a media type string (type/subtype)', field);
  }
  return value;
}

function readStringMap(value: unknown, field: string): Record<string, string> {
  if (!isPlainObject(value) || !Object.values(value).every((v) => typeof v === 'string')) {
    throw new ManifestInvalidError('MANIFEST_INVALID', 'must be an object of string values', field);
  }
  return value as Record<string, string>;
}

function readPlatform(value: unknown, field: string): Platform {
  if (!isPlainObject(value) || typeof value.architecture !== 'string' || typeof value.os !== 'string') {
    throw new ManifestInvalidError('MANIFEST_INVALID', 'platform needs string "architecture" and "os"', field);
  }
  const optionalStrings = ['os.version', 'variant'] as const;
  for (const key of optionalStrings) {
    if (value[key] !== undefined && typeof value[key] !== 'string') throw new ManifestInvalidError('MANIFEST_INVALID', 'must be a string', `${field}.${key}`);
  }
  for (const key of ['os.features', 'features'] as const) {
    const list = value[key];
    if (list !== undefined && !(Array.isArray(list) && list.every((v) => typeof v === 'string'))) {
      throw new ManifestInvalidError('MANIFEST_INVALID', 'must be an array of strings', `${field}.${key}`);
    }
  }
  return value as unknown as Platform;
}

/**
 * The descriptor a referrers response lists for a manifest that has a
 * `subject` (distribution-spec R-DISC-5): artifactType is the manifest's
 * `artifactType`, else the config media type of an image manifest.
 */
export function referrerDescriptorOf(manifest: ParsedManifest, digest: string, size: number): Descriptor {
  const artifactType = manifest.artifactType ?? (manifest.kind === 'manifest' ? manifest.config.mediaType : undefined);
  return {
    mediaType: manifest.mediaType,
    digest,
    size,
    ...(artifactType !== undefined && { artifactType }),
    ...(manifest.annotations !== undefined && { annotations: manifest.annotations }),
  };
}

// ---------------------------------------------------------------- image config

export interface HealthConfig {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

export interface ContainerConfig {
  User?: string;
  ExposedPorts?: Record<string, object>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, object>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  ArgsEscaped?: boolean;
  /** Docker extensions, kept in OCI configs as BuildKit does. */
  Healthcheck?: HealthConfig;
  OnBuild?: string[];
  Shell?: string[];
}

export interface HistoryEntry {
  created?: string;
  author?: string;
  created_by?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface ImageConfig {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
  config?: ContainerConfig;
  rootfs: { type: string; diff_ids: string[] };
  history?: HistoryEntry[];
}

/**
 * Reads an image config blob tolerantly: unknown fields are kept, fields of
 * the wrong type are dropped, and missing `architecture`/`os`/`rootfs` get
 * empty defaults. Only a body that is not a JSON object is an error.
 */
export function parseImageConfig(bytes: Buffer | string): ImageConfig {
  let document: unknown;
  try {
    document = JSON.parse(typeof bytes === 'string' ? bytes : bytes.toString('utf8'));
  } catch (error) {
    throw new ImageConfigInvalidError(`image config is not valid JSON: ${(error as Error).message}`);
  }
  if (!isPlainObject(document)) throw new ImageConfigInvalidError('image config must be a JSON object');

  const result: Record<string, unknown> = { ...document };
  for (const key of ['created', 'author', 'os.version', 'variant']) {
    if (result[key] !== undefined && typeof result[key] !== 'string') delete result[key];
  }
  result.architecture = typeof document.architecture === 'string' ? document.architecture : '';
  result.os = typeof document.os === 'string' ? document.os : '';
  if (result['os.features'] !== undefined && !isStringArray(result['os.features'])) delete result['os.features'];

  const rootfs = isPlainObject(document.rootfs) ? document.rootfs : {};
  result.rootfs = {
    ...rootfs,
    type: typeof rootfs.type === 'string' ? rootfs.type : 'layers',
    diff_ids: isStringArray(rootfs.diff_ids) ? rootfs.diff_ids : [],
  };

  if (isPlainObject(document.config)) result.config = readContainerConfig(document.config);
  else delete result.config;

  if (Array.isArray(document.history)) {
    result.history = document.history.filter(isPlainObject).map((entry) => {
      const clean: Record<string, unknown> = { ...entry };
      for (const key of ['created', 'author', 'created_by', 'comment']) if (clean[key] !== undefined && typeof clean[key] !== 'string') delete clean[key];
      if (clean.empty_layer !== undefined && typeof clean.empty_layer !== 'boolean') delete clean.empty_layer;
      return clean as HistoryEntry;
    });
  } else delete result.history;

  return result as unknown as ImageConfig;
}

function readContainerConfig(raw: Record<string, unknown>): ContainerConfig {
  const config: Record<string, unknown> = { ...raw };
  const keepIf = (key: string, ok: (v: unknown) => boolean) => {
    if (config[key] !== undefined && !ok(config[key])) delete config[key];
  };
  const isString = (v: unknown) => typeof v === 'string';
  const isSetMap = (v: unknown) => isPlainObject(v);
  keepIf('User', isString);
  keepIf('WorkingDir', isString);
  keepIf('StopSignal', isString);
  keepIf('Env', isStringArray);
  keepIf('Entrypoint', (v) => v === null || isStringArray(v));
  keepIf('Cmd', (v) => v === null || isStringArray(v));
  keepIf('OnBuild', (v) => v === null || isStringArray(v));
  keepIf('Shell', isStringArray);
  keepIf('ExposedPorts', isSetMap);
  keepIf('Volumes', isSetMap);
  keepIf('Labels', (v) => isPlainObject(v) && Object.values(v).every(isString));
  keepIf('ArgsEscaped', (v) => typeof v === 'boolean');
  keepIf('Healthcheck', isPlainObject);
  return config as ContainerConfig;
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
