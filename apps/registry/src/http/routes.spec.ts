import fc from 'fast-check';
import { parseManifest, ManifestInvalidError } from '@muelle/oci';
import { RegistryError } from '../errors';
import { parseBlobRange, parseChunkRange, paginationNumber, parseRequestTarget } from './routes';

const digest = `sha256:${'a'.repeat(64)}`;
const fail = (method: string, target: string) => {
  try {
    parseRequestTarget(method, target);
  } catch (error) {
    if (error instanceof RegistryError) return { code: error.code, status: error.status };
    throw error;
  }
  throw new Error(`${method} ${target} was accepted`);
};

describe('parseRequestTarget', () => {
  it('routes every endpoint by suffix, with names that contain slashes and keywords', () => {
    expect(parseRequestTarget('GET', '/v2/')!.route).toEqual({ kind: 'base' });
    expect(parseRequestTarget('GET', '/v2/_catalog?n=5')!.route).toEqual({ kind: 'catalog' });
    expect(parseRequestTarget('GET', '/v2/team/app/tags/list')!.route).toEqual({ kind: 'tags', name: 'team/app' });
    expect(parseRequestTarget('PUT', '/v2/a/manifests/b/manifests/v1')!.route).toEqual({ kind: 'manifest', name: 'a/manifests/b', reference: { tag: 'v1' } });
    expect(parseRequestTarget('GET', `/v2/blobs/blobs/${digest}`)!.route).toEqual({ kind: 'blob', name: 'blobs', digest });
    expect(parseRequestTarget('POST', '/v2/x/blobs/uploads/')!.route).toEqual({ kind: 'uploads', name: 'x' });
    expect(parseRequestTarget('POST', '/v2/x/blobs/uploads')!.route).toEqual({ kind: 'uploads', name: 'x' });
    const id = '6f1c1a38-8c37-4c8e-9a53-0d4b5c7b0e11';
    expect(parseRequestTarget('PATCH', `/v2/x/y/blobs/uploads/${id}?_x=1`)!.route).toEqual({ kind: 'upload', name: 'x/y', id });
    expect(parseRequestTarget('GET', `/v2/x/referrers/${digest}?artifactType=a%2Fb`)!.query.get('artifactType')).toBe('a/b');
    expect(parseRequestTarget('GET', `/v2/x/manifests/sha256%3A${'a'.repeat(64)}`)!.route).toMatchObject({ reference: { digest } });
  });

  it('leaves paths outside /v2 to the rest of the service', () => {
    expect(parseRequestTarget('GET', '/readyz')).toBeNull();
    expect(parseRequestTarget('GET', '/v20/x')).toBeNull();
  });

  it('answers the spec codes for bad names, tags, digests, upload ids and methods', () => {
    expect(fail('GET', '/v2/UPPER/tags/list')).toEqual({ code: 'NAME_INVALID', status: 400 });
    expect(fail('GET', `/v2/${'a'.repeat(256)}/tags/list`)).toEqual({ code: 'NAME_INVALID', status: 400 });
    expect(fail('GET', '/v2/a/../b/tags/list').code).toBe('NAME_INVALID');
    expect(fail('GET', '/v2/a%2Fb/tags/list').code).toBe('NAME_INVALID');
    expect(fail('GET', '/v2/a%2e%2e/tags/list').code).toBe('NAME_INVALID');
    expect(fail('GET', '/v2/a\\b/tags/list').code).toBe('NAME_INVALID');
    expect(fail('GET', '/v2/a//b/tags/list').code).toBe('NAME_INVALID');
    expect(fail('GET', '/v2/a/manifests/.bad')).toEqual({ code: 'MANIFEST_UNKNOWN', status: 404 });
    expect(fail('PUT', '/v2/a/manifests/.bad')).toEqual({ code: 'TAG_INVALID', status: 400 });
    expect(fail('GET', '/v2/a/blobs/md5:abc')).toEqual({ code: 'DIGEST_INVALID', status: 400 });
    expect(fail('GET', `/v2/a/blobs/sha256:${'A'.repeat(64)}`).code).toBe('DIGEST_INVALID');
    expect(fail('PATCH', '/v2/a/blobs/uploads/not-a-uuid')).toEqual({ code: 'BLOB_UPLOAD_UNKNOWN', status: 404 });
    expect(fail('POST', '/v2/a/tags/list')).toEqual({ code: 'UNSUPPORTED', status: 405 });
    expect(fail('GET', '/v2/a/nothing/here').status).toBe(404);
  });

  it('never lets a path with traversal or encoding tricks through as a name (property)', () => {
    const segment = fc.stringMatching(/^[a-z0-9._%\\-]{1,12}$/);
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 5 }), fc.constantFrom('tags/list', `blobs/${digest}`, 'manifests/latest'), (segments, suffix) => {
        const target = `/v2/${segments.join('/')}/${suffix}`;
        let parsed;
        try {
          parsed = parseRequestTarget('GET', target);
        } catch (error) {
          expect(error).toBeInstanceOf(RegistryError);
          return;
        }
        const name = (parsed!.route as { name: string }).name;
        expect(name).toMatch(/^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/);
        expect(name.split('/')).not.toContain('..');
        expect(name).not.toMatch(/[%\\]/);
      }),
      { numRuns: 2000 },
    );
  });

  it('either routes or throws a RegistryError for any request target (property)', () => {
    fc.assert(
      fc.property(fc.constantFrom('GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE', 'OPTIONS'), fc.string({ maxLength: 300 }), (method, tail) => {
        try {
          parseRequestTarget(method, `/v2/${tail}`);
        } catch (error) {
          expect(error).toBeInstanceOf(RegistryError);
          expect((error as RegistryError).status).toBeGreaterThanOrEqual(400);
          expect((error as RegistryError).status).toBeLessThan(500);
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('range and pagination parameters', () => {
  it('reads chunk Content-Range values', () => {
    expect(parseChunkRange(undefined)).toBeNull();
    expect(parseChunkRange('0-99')).toEqual({ start: 0, end: 99 });
    expect(parseChunkRange('bytes=100-199')).toEqual({ start: 100, end: 199 });
    expect(parseChunkRange('5-4')).toBe('invalid');
    expect(parseChunkRange('abc')).toBe('invalid');
  });

  it('resolves blob Range headers like HTTP', () => {
    expect(parseBlobRange('bytes=500-1499', 2048)).toEqual({ start: 500, end: 1499 });
    expect(parseBlobRange('bytes=-500', 2048)).toEqual({ start: 1548, end: 2047 });
    expect(parseBlobRange('bytes=2000-5000', 2048)).toEqual({ start: 2000, end: 2047 });
    expect(parseBlobRange('bytes=500-0', 2048)).toBe('unsatisfiable');
    expect(parseBlobRange('bytes=5000-', 2048)).toBe('unsatisfiable');
    expect(parseBlobRange('bytes=0-1,5-6', 2048)).toBeNull();
  });

  it('always yields a range inside the blob or a refusal (property)', () => {
    fc.assert(
      fc.property(fc.nat(10_000), fc.option(fc.nat(20_000)), fc.option(fc.nat(20_000)), (size, a, b) => {
        const result = parseBlobRange(`bytes=${a ?? ''}-${b ?? ''}`, size);
        if (result && result !== 'unsatisfiable') {
          expect(result.start).toBeGreaterThanOrEqual(0);
          expect(result.end).toBeLessThan(size);
          expect(result.start).toBeLessThanOrEqual(result.end);
        }
      }),
    );
  });

  it('checks page sizes', () => {
    expect(paginationNumber(null, 100, 1000)).toBe(100);
    expect(paginationNumber('5000', 100, 1000)).toBe(1000);
    expect(() => paginationNumber('-1', 100, 1000)).toThrow(RegistryError);
    expect(() => paginationNumber('x', 100, 1000)).toThrow(RegistryError);
  });
});

describe('manifest parsing as the registry uses it (property)', () => {
  it('accepts or rejects any body with a typed error, never anything else', () => {
    const arbitraryJson = fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v));
    const manifestLike = fc.record({
      schemaVersion: fc.constantFrom(1, 2, 3, '2'),
      mediaType: fc.option(fc.constantFrom('application/vnd.oci.image.manifest.v1+json', 'application/vnd.oci.image.index.v1+json', 'text/plain', 'application/vnd.docker.distribution.manifest.v1+json'), { nil: undefined }),
      config: fc.option(fc.record({ mediaType: fc.string(), digest: fc.constantFrom(digest, 'sha256:x', 'md5:0'), size: fc.integer() }), { nil: undefined }),
      layers: fc.option(fc.array(fc.record({ mediaType: fc.constant('application/vnd.oci.image.layer.v1.tar'), digest: fc.constantFrom(digest, 'bad'), size: fc.nat() })), { nil: undefined }),
      manifests: fc.option(fc.array(fc.anything()), { nil: undefined }),
    }).map((v) => JSON.stringify(v));
    fc.assert(
      fc.property(fc.oneof(arbitraryJson, manifestLike, fc.string()), fc.option(fc.constantFrom('application/vnd.oci.image.manifest.v1+json', 'application/json', 'application/vnd.oci.image.index.v1+json'), { nil: undefined }), (body, contentType) => {
        try {
          const parsed = parseManifest(Buffer.from(body), contentType);
          expect(['manifest', 'index']).toContain(parsed.kind);
          for (const d of [...parsed.referencedBlobs, ...parsed.referencedManifests]) expect(d.digest).toMatch(/^sha(256|512):[a-f0-9]+$/);
        } catch (error) {
          expect(error).toBeInstanceOf(ManifestInvalidError);
          expect(['MANIFEST_INVALID', 'DIGEST_INVALID', 'UNSUPPORTED']).toContain((error as ManifestInvalidError).code);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
