import { digestOf } from './digest';
import { ImageConfigInvalidError, ManifestInvalidError } from './errors';
import { MAX_IMAGE_CONFIG_SIZE, parseImageConfig, parseManifest, readImageConfigBytes, referrerDescriptorOf } from './manifest';
import { EMPTY_JSON_DIGEST, MediaType, isNondistributableMediaType, layerCompressionOf } from './media-types';

const d = (seed: string) => digestOf(seed);
const desc = (mediaType: string, seed: string, size = 10) => ({ mediaType, digest: d(seed), size });
const json = (value: unknown) => Buffer.from(JSON.stringify(value));

const ociManifest = {
  schemaVersion: 2,
  mediaType: MediaType.OciManifest,
  config: desc(MediaType.OciConfig, 'config'),
  layers: [desc(MediaType.OciLayerGzip, 'l1'), desc(MediaType.OciLayerGzip, 'l2')],
  annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' },
};

function expectManifestError(body: Buffer, contentType: string | undefined, code: string, message?: RegExp) {
  let caught: unknown;
  try {
    parseManifest(body, contentType);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ManifestInvalidError);
  expect((caught as ManifestInvalidError).code).toBe(code);
  if (message) expect((caught as Error).message).toMatch(message);
}

describe('parseManifest: accepted documents', () => {
  it('reads an OCI image manifest and lists config + layers as blobs', () => {
    const parsed = parseManifest(json(ociManifest), `${MediaType.OciManifest}; charset=utf-8`);
    expect(parsed.kind).toBe('manifest');
    if (parsed.kind !== 'manifest') return;
    expect(parsed.mediaType).toBe(MediaType.OciManifest);
    expect(parsed.config.digest).toBe(d('config'));
    expect(parsed.referencedBlobs.map((b) => b.digest)).toEqual([d('config'), d('l1'), d('l2')]);
    expect(parsed.referencedManifests).toEqual([]);
    expect(parsed.annotations).toEqual(ociManifest.annotations);
  });

  it('reads an index: children are manifests, not blobs; platforms kept', () => {
    const index = {
      schemaVersion: 2,
      mediaType: MediaType.OciIndex,
      manifests: [
        { ...desc(MediaType.OciManifest, 'amd'), platform: { architecture: 'amd64', os: 'linux' } },
        { ...desc(MediaType.OciIndex, 'nested') },
      ],
    };
    const parsed = parseManifest(json(index), MediaType.OciIndex);
    expect(parsed.kind).toBe('index');
    expect(parsed.referencedBlobs).toEqual([]);
    expect(parsed.referencedManifests.map((m) => m.digest)).toEqual([d('amd'), d('nested')]);
    expect(parsed.referencedManifests[0].platform).toEqual({ architecture: 'amd64', os: 'linux' });
  });

  it('accepts Docker schema 2 manifests and lists', () => {
    const docker = { schemaVersion: 2, mediaType: MediaType.DockerManifest, config: desc(MediaType.DockerConfig, 'c'), layers: [desc(MediaType.DockerLayerGzip, 'l')] };
    expect(parseManifest(json(docker), MediaType.DockerManifest).kind).toBe('manifest');
    const list = { schemaVersion: 2, mediaType: MediaType.DockerManifestList, manifests: [desc(MediaType.DockerManifest, 'm')] };
    expect(parseManifest(json(list), MediaType.DockerManifestList).kind).toBe('index');
  });

  it('accepts no layers, an empty index, unknown fields and descriptor data', () => {
    const artifact = {
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      artifactType: 'application/vnd.example.sbom',
      config: { mediaType: MediaType.OciEmpty, digest: EMPTY_JSON_DIGEST, size: 2, data: 'e30=', newUnspecifiedField: 1 },
      layers: [],
      subject: desc(MediaType.OciManifest, 'subject', 500),
      customTopLevel: { anything: true },
    };
    const parsed = parseManifest(json(artifact), MediaType.OciManifest);
    expect(parsed.artifactType).toBe('application/vnd.example.sbom');
    expect(parsed.subject?.digest).toBe(d('subject'));
    expect(parseManifest(json({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] })).kind).toBe('index');
  });

  it('infers the kind when neither mediaType nor a specific Content-Type is given', () => {
    const { mediaType: _drop, ...bare } = ociManifest;
    expect(parseManifest(json(bare), 'application/json').mediaType).toBe(MediaType.OciManifest);
    expect(parseManifest(json({ schemaVersion: 2, manifests: [] })).mediaType).toBe(MediaType.OciIndex);
    // The Content-Type decides when the body has no mediaType
    expect(parseManifest(json(bare), MediaType.DockerManifest).mediaType).toBe(MediaType.DockerManifest);
  });

  it('derives referrer descriptors as the referrers API lists them', () => {
    const withType = parseManifest(json({ ...ociManifest, artifactType: 'application/x-sig', subject: desc(MediaType.OciManifest, 's') }));
    expect(referrerDescriptorOf(withType, d('me'), 123)).toEqual({
      mediaType: MediaType.OciManifest,
      digest: d('me'),
      size: 123,
      artifactType: 'application/x-sig',
      annotations: ociManifest.annotations,
    });
    const fromConfig = parseManifest(json({ ...ociManifest, annotations: undefined }));
    expect(referrerDescriptorOf(fromConfig, d('me'), 1)).toEqual({ mediaType: MediaType.OciManifest, digest: d('me'), size: 1, artifactType: MediaType.OciConfig });
  });
});

describe('parseManifest: rejected documents', () => {
  it.each([
    ['not JSON', Buffer.from('{"schemaVersion":2,'), /not valid JSON/],
    ['a JSON array', json([1, 2]), /JSON object/],
    ['schemaVersion 3', json({ ...ociManifest, schemaVersion: 3 }), /schemaVersion: must be 2/],
    ['schemaVersion as a string', json({ ...ociManifest, schemaVersion: '2' }), /schemaVersion/],
    ['schema 1', json({ schemaVersion: 1, name: 'x', tag: 'y', fsLayers: [] }), /schema 1/],
    ['missing config', json({ ...ociManifest, config: undefined }), /config/],
    ['missing layers', json({ ...ociManifest, layers: undefined }), /layers/],
    ['layers not an array', json({ ...ociManifest, layers: {} }), /layers/],
    ['index without manifests', json({ schemaVersion: 2, mediaType: MediaType.OciIndex }), /manifests/],
    ['negative size', json({ ...ociManifest, layers: [{ ...desc(MediaType.OciLayerGzip, 'x'), size: -1 }] }), /layers\[0\]\.size/],
    ['fractional size', json({ ...ociManifest, layers: [{ ...desc(MediaType.OciLayerGzip, 'x'), size: 1.5 }] }), /size/],
    ['string size', json({ ...ociManifest, config: { ...ociManifest.config, size: '10' } }), /config\.size/],
    ['missing descriptor mediaType', json({ ...ociManifest, layers: [{ digest: d('x'), size: 1 }] }), /layers\[0\]\.mediaType/],
    ['bad media type', json({ ...ociManifest, layers: [{ ...desc('not-a-type', 'x') }] }), /mediaType/],
    ['non-string annotation', json({ ...ociManifest, annotations: { a: 1 } }), /annotations/],
    ['urls not strings', json({ ...ociManifest, layers: [{ ...desc(MediaType.OciLayerGzip, 'x'), urls: [1] }] }), /urls/],
    ['bad data', json({ ...ociManifest, config: { ...ociManifest.config, data: '***' } }), /data/],
    ['bad platform', json({ schemaVersion: 2, manifests: [{ ...desc(MediaType.OciManifest, 'm'), platform: { os: 'linux' } }] }), /platform/],
    ['bad subject', json({ ...ociManifest, subject: { mediaType: MediaType.OciManifest } }), /subject/],
  ])('MANIFEST_INVALID: %s', (_label, body, message) => expectManifestError(body, undefined, 'MANIFEST_INVALID', message));

  it('rejects a mediaType that disagrees with the Content-Type', () => {
    expectManifestError(json(ociManifest), MediaType.DockerManifest, 'MANIFEST_INVALID', /does not match Content-Type/);
  });

  it('rejects schema 1 by Content-Type', () => {
    expectManifestError(json({ schemaVersion: 1 }), MediaType.DockerSchema1SignedManifest, 'MANIFEST_INVALID', /schema 1/);
  });

  it('answers DIGEST_INVALID for malformed descriptor digests', () => {
    expectManifestError(json({ ...ociManifest, layers: [{ ...desc(MediaType.OciLayerGzip, 'x'), digest: 'sha256:abc' }] }), undefined, 'DIGEST_INVALID', /layers\[0\]\.digest/);
    expectManifestError(json({ ...ociManifest, config: { ...ociManifest.config, digest: 42 } }), undefined, 'DIGEST_INVALID', /config\.digest/);
  });

  it('answers UNSUPPORTED for media types that are not manifests we store', () => {
    expectManifestError(json({ ...ociManifest, mediaType: MediaType.OciArtifactManifest }), undefined, 'UNSUPPORTED');
    expectManifestError(json({ ...ociManifest, mediaType: undefined }), 'application/vnd.example.thing', 'UNSUPPORTED');
  });
});

describe('media types', () => {
  it('knows layer compression and non-distributable layers', () => {
    expect(layerCompressionOf(MediaType.OciLayerZstd)).toBe('zstd');
    expect(layerCompressionOf(MediaType.DockerLayerGzip)).toBe('gzip');
    expect(layerCompressionOf(MediaType.OciConfig)).toBeUndefined();
    expect(isNondistributableMediaType(MediaType.OciLayerNondistributableGzip)).toBe(true);
    expect(isNondistributableMediaType(MediaType.DockerForeignLayerGzip)).toBe(true);
    expect(isNondistributableMediaType(MediaType.OciLayerGzip)).toBe(false);
  });
});

describe('parseImageConfig', () => {
  it('reads the fields the runtime and builder need', () => {
    const config = parseImageConfig(
      json({
        architecture: 'amd64',
        os: 'linux',
        created: '2024-01-01T00:00:00Z',
        config: {
          Env: ['PATH=/usr/bin'],
          Entrypoint: ['/bin/sh', '-c'],
          Cmd: null,
          WorkingDir: '/app',
          User: '1000:1000',
          ExposedPorts: { '80/tcp': {} },
          Labels: { a: 'b' },
          Volumes: { '/data': {} },
          StopSignal: 'SIGTERM',
          Healthcheck: { Test: ['CMD', 'true'], Interval: 1e9 },
        },
        rootfs: { type: 'layers', diff_ids: [d('a'), d('b')] },
        history: [{ created_by: 'RUN x' }, { created_by: 'ENV y', empty_layer: true }],
        futureField: { keep: true },
      }),
    );
    expect(config.config?.Entrypoint).toEqual(['/bin/sh', '-c']);
    expect(config.config?.Cmd).toBeNull();
    expect(config.config?.ExposedPorts).toEqual({ '80/tcp': {} });
    expect(config.config?.Healthcheck?.Test).toEqual(['CMD', 'true']);
    expect(config.rootfs.diff_ids).toEqual([d('a'), d('b')]);
    expect(config.history?.[1].empty_layer).toBe(true);
    expect((config as unknown as Record<string, unknown>).futureField).toEqual({ keep: true });
  });

  it('drops wrongly typed fields and fills required ones instead of failing', () => {
    const config = parseImageConfig('{"config":{"Env":"PATH=/x","Cmd":[1],"User":7,"WorkingDir":"/w"},"rootfs":{"diff_ids":"nope"},"history":[1,{"created_by":5,"comment":"ok"}]}');
    expect(config.architecture).toBe('');
    expect(config.os).toBe('');
    expect(config.config).toEqual({ WorkingDir: '/w' });
    expect(config.rootfs).toEqual({ type: 'layers', diff_ids: [] });
    expect(config.history).toEqual([{ comment: 'ok' }]);
  });

  it('fails only when the blob is not a JSON object', () => {
    expect(() => parseImageConfig('nope')).toThrow(ImageConfigInvalidError);
    expect(() => parseImageConfig('[]')).toThrow(ImageConfigInvalidError);
  });
});

describe('readImageConfigBytes', () => {
  async function* chunks(count: number, size: number) {
    for (let i = 0; i < count; i++) yield Buffer.alloc(size, 0x20);
  }

  it('reads a config blob whole', async () => {
    expect((await readImageConfigBytes(chunks(3, 1000))).length).toBe(3000);
  });

  it('refuses one past the limit without reading the rest', async () => {
    let read = 0;
    async function* counted() {
      for await (const chunk of chunks(1000, 1024 * 1024)) {
        read++;
        yield chunk;
      }
    }
    await expect(readImageConfigBytes(counted())).rejects.toThrow(ImageConfigInvalidError);
    expect(read).toBe(MAX_IMAGE_CONFIG_SIZE / (1024 * 1024) + 1);
  });
});
