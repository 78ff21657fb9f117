import { randomBytes } from 'node:crypto';
import { RegistryClient, RegistryResponse, randomBlob, sha256, sha512, withQuery } from '../client';
import type { RegistryTarget } from '../targets';

/**
 * Our conformance suite for the OCI distribution spec (pull, push, content discovery, content
 * management), one test per requirement ID of /work/shared/reference/registry.md §1.5. It runs
 * against any registry URL. Requirements a target is known not to implement are listed in
 * `unsupported`: for those the check must FAIL on that target (proving the check can fail),
 * and the test says so in its name.
 */
export function describeConformance(label: string, target: () => RegistryTarget, unsupported: Record<string, string> = {}): void {
  let client: RegistryClient;
  const run = randomBytes(3).toString('hex');
  let counter = 0;
  const repo = (what: string) => `conformance-${run}/${what}-${++counter}`;

  beforeAll(() => {
    client = new RegistryClient(target().url, target().credentials);
  });

  const requirement = (id: string, title: string, check: () => Promise<void>, timeout = 30_000) => {
    const reason = unsupported[id];
    if (reason) {
      it(`${id} ${title} — expected unsupported on ${label}: ${reason}`, async () => {
        await expect(check()).rejects.toThrow();
      }, timeout);
    } else {
      it(`${id} ${title}`, check, timeout);
    }
  };

  const ociManifest = (config: Buffer, layers: Buffer[], extra: object = {}) => ({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(l), size: l.length })),
    ...extra,
  });

  /** Pushes a config + layers and a manifest; returns everything a test needs. */
  const pushImage = async (name: string, tag: string, extra: object = {}) => {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, nonce: randomBytes(8).toString('hex') }));
    const layer = randomBlob(3000);
    expect((await client.pushBlob(name, config)).status).toBe(201);
    expect((await client.pushBlob(name, layer)).status).toBe(201);
    const manifest = Buffer.from(JSON.stringify(ociManifest(config, [layer], extra), null, 3) + '\n');
    const put = await client.pushManifest(name, tag, manifest);
    expect(put.status).toBe(201);
    return { config, layer, manifest, digest: sha256(manifest), put };
  };

  const expectError = (response: RegistryResponse, status: number | number[], codes?: string[]) => {
    const statuses = Array.isArray(status) ? status : [status];
    if (!statuses.includes(response.status)) throw new Error(`expected status ${statuses.join('/')} but got ${response.status}: ${response.body.toString().slice(0, 300)}`);
    if (codes && response.body.length) {
      const body = response.json();
      expect(Array.isArray(body.errors)).toBe(true);
      expect(codes).toContain(body.errors[0].code);
    }
  };

  // ================================================================ pull

  describe('pull', () => {
    requirement('R-PULL-1', 'GET /v2/ answers 200 with the API version header', async () => {
      const response = await client.request('GET', '/v2/');
      expect(response.status).toBe(200);
      expect(response.header('docker-distribution-api-version')).toBe('registry/2.0');
      if (target().credentials) {
        const anonymous = await client.raw('GET', '/v2/', {});
        expect(anonymous.status).toBe(401);
        expect(anonymous.header('www-authenticate')).toMatch(/^Bearer realm="[^"]+",service="[^"]+"/);
      }
    });

    requirement('R-PULL-2', 'manifests by tag and digest: exact bytes, Content-Type, Content-Length, digest; HEAD without body; missing is 404', async () => {
      const name = repo('pull');
      const image = await pushImage(name, 'tagtest0');
      for (const reference of ['tagtest0', image.digest]) {
        const get = await client.request('GET', `/v2/${name}/manifests/${reference}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
        expect(get.status).toBe(200);
        expect(get.body.equals(image.manifest)).toBe(true);
        expect(get.header('content-type')).toBe('application/vnd.oci.image.manifest.v1+json');
        expect(get.header('content-length')).toBe(String(image.manifest.length));
        expect(get.header('docker-content-digest')).toBe(image.digest);
        const head = await client.request('HEAD', `/v2/${name}/manifests/${reference}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
        expect(head.status).toBe(200);
        expect(head.body.length).toBe(0);
        expect(head.header('content-length')).toBe(String(image.manifest.length));
        expect(head.header('docker-content-digest')).toBe(image.digest);
      }
      expectError(await client.request('GET', `/v2/${name}/manifests/nope`), 404, ['MANIFEST_UNKNOWN']);
      expectError(await client.request('GET', `/v2/${name}/manifests/${sha256('missing')}`), 404, ['MANIFEST_UNKNOWN']);
      expectError(await client.request('HEAD', `/v2/${name}/manifests/nope`), 404);
    });

    requirement('R-PULL-3', 'a syntactically invalid tag on GET/HEAD is 404', async () => {
      const name = repo('pull');
      await pushImage(name, 'ok');
      expect((await client.request('GET', `/v2/${name}/manifests/.INVALID_MANIFEST_NAME`)).status).toBe(404);
      expect((await client.request('HEAD', `/v2/${name}/manifests/.INVALID_MANIFEST_NAME`)).status).toBe(404);
    });

    requirement('R-PULL-4', 'a malformed digest reference is 400 with a known code, or 404', async () => {
      const name = repo('pull');
      await pushImage(name, 'ok');
      for (const bad of ['sha256:totallywrong', 'sha256:baddigeststring']) {
        const response = await client.request('GET', `/v2/${name}/manifests/${bad}`);
        expect([400, 404]).toContain(response.status);
        if (response.status === 400) expect(['DIGEST_INVALID', 'MANIFEST_INVALID', 'MANIFEST_UNKNOWN', 'NAME_INVALID', 'TAG_INVALID']).toContain(response.json().errors[0].code);
      }
    });

    requirement('R-PULL-5', 'blobs: exact bytes, Content-Length, Docker-Content-Digest; 0-byte and {} blobs; missing is 404 BLOB_UNKNOWN', async () => {
      const name = repo('pull');
      for (const bytes of [randomBlob(4096), Buffer.alloc(0), Buffer.from('{}')]) {
        const digest = sha256(bytes);
        expect((await client.pushBlob(name, bytes)).status).toBe(201);
        const get = await client.request('GET', `/v2/${name}/blobs/${digest}`);
        expect(get.status).toBe(200);
        expect(get.body.equals(bytes)).toBe(true);
        expect(get.header('docker-content-digest')).toBe(digest);
        const head = await client.request('HEAD', `/v2/${name}/blobs/${digest}`);
        expect(head.status).toBe(200);
        expect(head.header('content-length')).toBe(String(bytes.length));
        expect(head.header('docker-content-digest')).toBe(digest);
        expect(head.body.length).toBe(0);
      }
      expectError(await client.request('GET', `/v2/${name}/blobs/${sha256('never pushed')}`), 404, ['BLOB_UNKNOWN']);
      expect((await client.request('HEAD', `/v2/${name}/blobs/${sha256('never pushed')}`)).status).toBe(404);
    });

    requirement('R-PULL-6', 'Range requests on blobs: 206 with the right bytes, 416 when unsatisfiable', async () => {
      const name = repo('pull');
      const bytes = randomBlob(2048);
      const digest = sha256(bytes);
      expect((await client.pushBlob(name, bytes)).status).toBe(201);
      const get = (range: string) => client.request('GET', `/v2/${name}/blobs/${digest}`, { headers: { range } });
      const cases: [string, number, number][] = [
        ['bytes=500-1499', 500, 1499],
        ['bytes=500-', 500, 2047],
        ['bytes=-500', 1548, 2047],
        ['bytes=2000-5000', 2000, 2047],
      ];
      for (const [range, start, end] of cases) {
        const response = await get(range);
        expect(response.status).toBe(206);
        expect(response.truncated).toBe(false);
        expect(response.body.equals(bytes.subarray(start, end + 1))).toBe(true);
        expect(response.header('content-length')).toBe(String(end - start + 1));
        expect(response.header('content-range')).toMatch(new RegExp(`^bytes ${start}-${end}/(2048|\\*)$`));
      }
      expect((await get('bytes=500-0')).status).toBe(416);
      expect((await get('bytes=5000-10000')).status).toBe(416);
    });

    requirement('R-PULL-8', 'the manifest Content-Type is the pushed one (Docker schema 2)', async () => {
      const name = repo('pull');
      const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
      await client.pushBlob(name, config);
      const manifest = {
        schemaVersion: 2,
        mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
        config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: sha256(config), size: config.length },
        layers: [],
      };
      expect((await client.pushManifest(name, 'docker', manifest)).status).toBe(201);
      const get = await client.request('GET', `/v2/${name}/manifests/docker`, { headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' } });
      expect(get.status).toBe(200);
      expect(get.header('content-type')).toBe('application/vnd.docker.distribution.manifest.v2+json');
    });
  });

  // ================================================================ push

  describe('push', () => {
    requirement('R-PUSH-1', 'POST then monolithic PUT: 202 with Location, then 201 with a pullable Location and the digest', async () => {
      const name = repo('push');
      const bytes = randomBlob(10_000);
      const start = await client.request('POST', `/v2/${name}/blobs/uploads/`, { headers: { 'content-length': '0' } });
      expect(start.status).toBe(202);
      expect(start.header('location')).toBeTruthy();
      const put = await client.request('PUT', withQuery(start.header('location')!, { digest: sha256(bytes) }), {
        headers: { 'content-type': 'application/octet-stream' },
        body: bytes,
      });
      expect(put.status).toBe(201);
      expect(put.header('docker-content-digest')).toBe(sha256(bytes));
      const pulled = await client.request('GET', put.header('location')!);
      expect(pulled.status).toBe(200);
      expect(pulled.body.equals(bytes)).toBe(true);
    });

    requirement('R-PUSH-2', 'single POST with digest: 201 and the blob exists, or 202 and it does not', async () => {
      const name = repo('push');
      const bytes = randomBlob(1000);
      const post = await client.request('POST', `/v2/${name}/blobs/uploads/?digest=${sha256(bytes)}`, {
        headers: { 'content-type': 'application/octet-stream' },
        body: bytes,
      });
      expect([201, 202]).toContain(post.status);
      expect(post.header('location')).toBeTruthy();
      const head = await client.request('HEAD', `/v2/${name}/blobs/${sha256(bytes)}`);
      expect(head.status).toBe(post.status === 201 ? 200 : 404);
    });

    requirement('R-PUSH-3', 'chunked upload: PATCH ranges, 416 out of order, status 204 with Range, closing PUT', async () => {
      const name = repo('push');
      const bytes = randomBlob(30_000);
      const chunks = [bytes.subarray(0, 10_000), bytes.subarray(10_000, 20_000), bytes.subarray(20_000)];
      const start = await client.request('POST', `/v2/${name}/blobs/uploads/`, { headers: { 'content-length': '0' } });
      expect(start.status).toBe(202);
      const patch = (location: string, chunk: Buffer, from: number) =>
        client.request('PATCH', location, {
          headers: { 'content-type': 'application/octet-stream', 'content-range': `${from}-${from + chunk.length - 1}` },
          body: chunk,
        });
      // The second chunk first: out of order.
      expect((await patch(start.header('location')!, chunks[1], 10_000)).status).toBe(416);
      const first = await patch(start.header('location')!, chunks[0], 0);
      expect(first.status).toBe(202);
      expect(first.header('range')).toBe('0-9999');
      expect(first.header('location')).toBeTruthy();
      // Re-sending the accepted chunk to the previous location is out of order too.
      expect((await patch(start.header('location')!, chunks[0], 0)).status).toBe(416);
      const status = await client.request('GET', first.header('location')!);
      expect(status.status).toBe(204);
      expect(status.header('range')).toBe('0-9999');
      expect(status.header('location')).toBeTruthy();
      const second = await patch(first.header('location')!, chunks[1], 10_000);
      expect(second.status).toBe(202);
      expect(second.header('range')).toBe('0-19999');
      // The last chunk travels with the closing PUT.
      const close = await client.request('PUT', withQuery(second.header('location')!, { digest: sha256(bytes) }), {
        headers: { 'content-type': 'application/octet-stream', 'content-range': `20000-${bytes.length - 1}` },
        body: chunks[2],
      });
      expect(close.status).toBe(201);
      expect(close.header('docker-content-digest')).toBe(sha256(bytes));
      const pulled = await client.request('GET', `/v2/${name}/blobs/${sha256(bytes)}`);
      expect(pulled.body.equals(bytes)).toBe(true);
    });

    requirement('R-PUSH-4', 'streamed PATCH without Content-Range, Content-Length or Content-Type, then PUT without body', async () => {
      const name = repo('push');
      const bytes = randomBlob(200_000);
      const start = await client.request('POST', `/v2/${name}/blobs/uploads/`, { headers: { 'content-length': '0' } });
      async function* pieces() {
        for (let i = 0; i < bytes.length; i += 65_536) yield bytes.subarray(i, i + 65_536);
      }
      const patch = await client.request('PATCH', start.header('location')!, { body: pieces(), chunked: true });
      expect(patch.status).toBe(202);
      expect(patch.header('range')).toBe(`0-${bytes.length - 1}`);
      const close = await client.request('PUT', withQuery(patch.header('location')!, { digest: sha256(bytes) }), { headers: { 'content-length': '0' } });
      expect(close.status).toBe(201);
      expect((await client.request('GET', `/v2/${name}/blobs/${sha256(bytes)}`)).body.equals(bytes)).toBe(true);
    });

    requirement('R-PUSH-5', 'a digest mismatch is 400 DIGEST_INVALID (monolithic, chunked, streamed) and nothing is kept', async () => {
      const name = repo('push');
      const bytes = randomBlob(5000);
      const wrong = sha256('something else');
      const post = async () => (await client.request('POST', `/v2/${name}/blobs/uploads/`, { headers: { 'content-length': '0' } })).header('location')!;
      expectError(await client.request('PUT', withQuery(await post(), { digest: wrong }), { headers: { 'content-type': 'application/octet-stream' }, body: bytes }), 400, ['DIGEST_INVALID']);
      const chunked = await client.request('PATCH', await post(), { headers: { 'content-type': 'application/octet-stream', 'content-range': `0-${bytes.length - 1}` }, body: bytes });
      expect(chunked.status).toBe(202);
      expectError(await client.request('PUT', withQuery(chunked.header('location')!, { digest: wrong }), { headers: { 'content-length': '0' } }), 400, ['DIGEST_INVALID']);
      expectError(await client.request('PUT', withQuery(await post(), { digest: 'sha256:not-a-digest' }), { body: bytes }), 400, ['DIGEST_INVALID']);
      expect((await client.request('HEAD', `/v2/${name}/blobs/${wrong}`)).status).toBe(404);
      expect((await client.request('HEAD', `/v2/${name}/blobs/${sha256(bytes)}`)).status).toBe(404);
    });

    requirement('R-PUSH-6', 'sha512 blobs through monolithic and chunked uploads', async () => {
      const name = repo('push');
      const bytes = randomBlob(7000);
      const digest = sha512(bytes);
      const monolithic = await client.pushBlob(name, bytes, digest);
      expect(monolithic.status).toBe(201);
      expect(monolithic.header('docker-content-digest')).toBe(digest);
      const other = randomBlob(9000);
      const start = await client.request('POST', `/v2/${name}/blobs/uploads/`, { headers: { 'content-length': '0' } });
      const patch = await client.request('PATCH', start.header('location')!, { headers: { 'content-type': 'application/octet-stream', 'content-range': `0-${other.length - 1}` }, body: other });
      expect(patch.status).toBe(202);
      expect((await client.request('PUT', withQuery(patch.header('location')!, { digest: sha512(other) }))).status).toBe(201);
      const get = await client.request('GET', `/v2/${name}/blobs/${digest}`);
      expect(get.status).toBe(200);
      expect(get.body.equals(bytes)).toBe(true);
    });

    requirement('R-PUSH-7', 'cross-repository mount: 201 at /v2/<name>/blobs/<digest>; 202 with a usable upload when it cannot mount', async () => {
      const source = repo('mount-src');
      const name = repo('mount-dst');
      const bytes = randomBlob(4000);
      expect((await client.pushBlob(source, bytes)).status).toBe(201);
      const path = `/v2/${name}/blobs/uploads/?mount=${sha256(bytes)}&from=${source}`;
      await client.authorize(`repository:${name}:pull,push repository:${source}:pull`, path, 'POST');
      const mounted = await client.request('POST', path, { headers: { 'content-length': '0' } });
      expect(mounted.status).toBe(201);
      expect(new URL(mounted.header('location')!, target().url).pathname).toBe(`/v2/${name}/blobs/${sha256(bytes)}`);
      expect(mounted.header('docker-content-digest')).toBe(sha256(bytes));
      expect((await client.request('GET', `/v2/${name}/blobs/${sha256(bytes)}`)).body.equals(bytes)).toBe(true);
      // Missing in the source: an ordinary upload that accepts a PUT.
      const other = randomBlob(100);
      const missing = await client.request('POST', `/v2/${name}/blobs/uploads/?mount=${sha256(other)}&from=${source}`, { headers: { 'content-length': '0' } });
      expect(missing.status).toBe(202);
      expect(missing.header('location')).toMatch(new RegExp(`/v2/${name}/blobs/uploads/`));
      const put = await client.request('PUT', withQuery(missing.header('location')!, { digest: sha256(other) }), { body: other });
      expect(put.status).toBe(201);
      // No `from` at all.
      const noFrom = await client.request('POST', `/v2/${name}/blobs/uploads/?mount=${sha256('whatever')}`, { headers: { 'content-length': '0' } });
      expect(noFrom.status).toBe(202);
    });

    requirement('R-PUSH-8', 'DELETE of an upload session cancels it (204, then 404)', async () => {
      const name = repo('push');
      const start = await client.request('POST', `/v2/${name}/blobs/uploads/`, { headers: { 'content-length': '0' } });
      expect((await client.request('DELETE', start.header('location')!)).status).toBe(204);
      expect((await client.request('GET', start.header('location')!)).status).toBe(404);
    });

    requirement('R-PUSH-9', 'an unknown upload session is 404 BLOB_UPLOAD_UNKNOWN', async () => {
      const name = repo('push');
      await client.pushBlob(name, randomBlob(10));
      const unknown = `/v2/${name}/blobs/uploads/6f1c1a38-8c37-4c8e-9a53-0d4b5c7b0e11`;
      expectError(await client.request('PATCH', unknown, { headers: { 'content-type': 'application/octet-stream' }, body: randomBlob(10) }), 404, ['BLOB_UPLOAD_UNKNOWN']);
      expectError(await client.request('PUT', `${unknown}?digest=${sha256('x')}`, { body: 'x' }), 404, ['BLOB_UPLOAD_UNKNOWN']);
    });

    requirement('R-MAN-1', 'manifest PUT by tag: 201, Location, digest; bytes stored exactly', async () => {
      const name = repo('manifest');
      const image = await pushImage(name, 'v1');
      expect(image.put.header('docker-content-digest')).toBe(image.digest);
      expect(image.put.header('location')).toBeTruthy();
      const get = await client.request('GET', image.put.header('location')!, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
      expect(get.body.equals(image.manifest)).toBe(true);
    });

    requirement('R-MAN-2', 'a Content-Type that contradicts mediaType is 400 MANIFEST_INVALID', async () => {
      const name = repo('manifest');
      const image = await pushImage(name, 'v1');
      const response = await client.pushManifest(name, 'v2', image.manifest, 'application/vnd.oci.image.index.v1+json');
      expectError(response, 400, ['MANIFEST_INVALID']);
    });

    requirement('R-MAN-3', 'PUT by digest: bytes must hash to it, else 400 DIGEST_INVALID', async () => {
      const name = repo('manifest');
      const image = await pushImage(name, 'v1');
      const altered = Buffer.concat([image.manifest, Buffer.from('  ')]);
      expectError(await client.pushManifest(name, image.digest, altered), 400, ['DIGEST_INVALID']);
      const byDigest = await client.pushManifest(name, sha256(altered), altered);
      expect(byDigest.status).toBe(201);
      expect(byDigest.header('docker-content-digest')).toBe(sha256(altered));
    });

    requirement('R-MAN-4', 'unknown fields and descriptor data are accepted', async () => {
      const name = repo('manifest');
      const config = Buffer.from('{}');
      await client.pushBlob(name, config);
      const manifest = {
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(config), size: 2, data: 'e30=', newUnspecifiedField: 'x' },
        layers: [],
        custom: { nested: [1, 2, 3] },
      };
      expect((await client.pushManifest(name, 'custom', manifest)).status).toBe(201);
    });

    requirement('R-MAN-5', 'manifests without layers, empty indexes and nested indexes are accepted', async () => {
      const name = repo('manifest');
      const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
      await client.pushBlob(name, config);
      const empty = Buffer.from(JSON.stringify(ociManifest(config, [])));
      expect((await client.pushManifest(name, 'nolayers', empty)).status).toBe(201);
      const index = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] as object[] };
      expect((await client.pushManifest(name, 'emptyindex', index)).status).toBe(201);
      const inner = {
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(empty), size: empty.length, platform: { architecture: 'amd64', os: 'linux' } }],
      };
      const innerBytes = Buffer.from(JSON.stringify(inner));
      expect((await client.pushManifest(name, sha256(innerBytes), innerBytes)).status).toBe(201);
      const outer = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', digest: sha256(innerBytes), size: innerBytes.length }] };
      expect((await client.pushManifest(name, 'nested', outer)).status).toBe(201);
    });

    requirement('R-MAN-6', 'unknown blobs are 400 MANIFEST_BLOB_UNKNOWN; a missing subject and non-distributable layers are fine', async () => {
      const name = repo('manifest');
      const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
      await client.pushBlob(name, config);
      const missingLayer = randomBlob(100);
      expectError(await client.pushManifest(name, 'broken', ociManifest(config, [missingLayer])), 400, ['MANIFEST_BLOB_UNKNOWN']);
      const foreign = {
        ...ociManifest(config, []),
        layers: [{ mediaType: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', digest: sha256('foreign'), size: 7, urls: ['https://example.com/layer'] }],
      };
      expect((await client.pushManifest(name, 'foreign', foreign)).status).toBe(201);
      const withSubject = ociManifest(config, [], { subject: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256('not pushed yet'), size: 14 } });
      const bytes = Buffer.from(JSON.stringify(withSubject));
      expect((await client.pushManifest(name, sha256(bytes), bytes)).status).toBe(201);
    });

    requirement('R-MAN-7', 'manifests up to 4 MiB are accepted, larger ones are 413', async () => {
      const name = repo('manifest');
      const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
      await client.pushBlob(name, config);
      const annotations: Record<string, string> = {};
      for (let i = 0; i < 390; i++) annotations[`org.example.${i}`] = 'x'.repeat(10_000);
      const large = Buffer.from(JSON.stringify(ociManifest(config, [], { annotations })));
      expect(large.length).toBeGreaterThan(3_900_000);
      const put = await client.pushManifest(name, 'large', large);
      expect(put.status).toBe(201);
      const get = await client.request('GET', `/v2/${name}/manifests/large`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
      expect(get.body.equals(large)).toBe(true);
      for (let i = 390; i < 430; i++) annotations[`org.example.${i}`] = 'x'.repeat(10_000);
      const tooLarge = Buffer.from(JSON.stringify(ociManifest(config, [], { annotations })));
      expect(tooLarge.length).toBeGreaterThan(4 * 1024 * 1024);
      expect((await client.pushManifest(name, 'toolarge', tooLarge)).status).toBe(413);
    }, 60_000);

    requirement('R-MAN-8', 'a manifest with a subject gets OCI-Subject', async () => {
      const name = repo('manifest');
      const subject = await pushImage(name, 'subject');
      const config = Buffer.from('{}');
      await client.pushBlob(name, config);
      const artifact = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          artifactType: 'application/vnd.example.sbom',
          config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(config), size: 2 },
          layers: [],
          subject: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: subject.digest, size: subject.manifest.length },
        }),
      );
      const put = await client.pushManifest(name, sha256(artifact), artifact);
      expect(put.status).toBe(201);
      expect(put.header('oci-subject')).toBe(subject.digest);
    });

    requirement('R-MAN-10', 'Docker schema 2 manifests and manifest lists are accepted', async () => {
      const name = repo('manifest');
      const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
      const layer = randomBlob(500);
      await client.pushBlob(name, config);
      await client.pushBlob(name, layer);
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
          config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: sha256(config), size: config.length },
          layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: sha256(layer), size: layer.length }],
        }),
      );
      expect((await client.pushManifest(name, sha256(manifest), manifest)).status).toBe(201);
      const list = {
        schemaVersion: 2,
        mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json',
        manifests: [{ mediaType: 'application/vnd.docker.distribution.manifest.v2+json', digest: sha256(manifest), size: manifest.length, platform: { architecture: 'amd64', os: 'linux' } }],
      };
      expect((await client.pushManifest(name, 'list', list)).status).toBe(201);
    });
  });

  // ================================================================ content discovery

  describe('content discovery', () => {
    let name: string;
    const tags = ['b', 'A', 'a', 'c1', 'c0', 'latest'];
    beforeAll(async () => {
      name = repo('tags');
      const image = await pushImage(name, tags[0]);
      for (const tag of tags.slice(1)) expect((await client.pushManifest(name, tag, image.manifest)).status).toBe(201);
    });
    const sorted = [...tags].sort();

    requirement('R-DISC-1', 'tags list: every tag, sorted; an unknown repository is 404 NAME_UNKNOWN', async () => {
      const response = await client.request('GET', `/v2/${name}/tags/list`);
      expect(response.status).toBe(200);
      expect(response.json()).toEqual({ name, tags: sorted });
      expectError(await client.request('GET', `/v2/${repo('never')}/tags/list`), 404, ['NAME_UNKNOWN']);
    });

    requirement('R-DISC-2', 'tags list ?n=: at most n with a Link to the rest; n=0 is empty without Link', async () => {
      const page = await client.request('GET', `/v2/${name}/tags/list?n=2`);
      expect(page.status).toBe(200);
      expect(page.json().tags).toEqual(sorted.slice(0, 2));
      expect(page.header('link')).toMatch(/^<[^>]*\/v2\/.*tags\/list\?.*last=.*>; rel="next"$/);
      const next = await client.request('GET', page.header('link')!.slice(1, page.header('link')!.indexOf('>')));
      expect(next.json().tags).toEqual(sorted.slice(2, 4));
      const zero = await client.request('GET', `/v2/${name}/tags/list?n=0`);
      expect(zero.status).toBe(200);
      expect(zero.json().tags ?? []).toEqual([]);
      expect(zero.header('link')).toBeUndefined();
    });

    requirement('R-DISC-3', 'tags list ?last= starts strictly after that tag', async () => {
      const response = await client.request('GET', `/v2/${name}/tags/list?last=${sorted[2]}`);
      expect(response.json().tags).toEqual(sorted.slice(3));
      const bounded = await client.request('GET', `/v2/${name}/tags/list?n=1&last=${sorted[0]}`);
      expect(bounded.json().tags).toEqual([sorted[1]]);
    });

    requirement('R-DISC-4', 'referrers of an unknown subject: 200 with an empty OCI index', async () => {
      const response = await client.request('GET', `/v2/${repo('nothing')}/referrers/${sha256('no subject')}`);
      expect(response.status).toBe(200);
      expect(response.header('content-type')).toMatch(/^application\/vnd\.oci\.image\.index\.v1\+json/);
      expect(response.json()).toEqual({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] });
    });

    const pushReferrers = async () => {
      const target = repo('referrers');
      const subject = await pushImage(target, 'subject');
      const empty = Buffer.from('{}');
      await client.pushBlob(target, empty);
      const artifact = (artifactType: string | undefined, configType: string, annotation: string) =>
        Buffer.from(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            ...(artifactType ? { artifactType } : {}),
            config: { mediaType: configType, digest: sha256(empty), size: 2 },
            layers: [],
            subject: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: subject.digest, size: subject.manifest.length },
            annotations: { 'org.example.note': annotation },
          }),
        );
      const a = artifact('application/vnd.example.sbom', 'application/vnd.oci.empty.v1+json', 'a');
      const b = artifact(undefined, 'application/vnd.example.signature', 'b');
      for (const bytes of [a, b]) expect((await client.pushManifest(target, sha256(bytes), bytes)).status).toBe(201);
      return { target, subject, a, b };
    };

    requirement('R-DISC-5', 'referrers list each referrer with artifactType (or config type) and its annotations', async () => {
      const { target, subject, a, b } = await pushReferrers();
      const response = await client.request('GET', `/v2/${target}/referrers/${subject.digest}`);
      expect(response.status).toBe(200);
      const manifests = response.json().manifests;
      expect(manifests).toHaveLength(2);
      expect(manifests).toEqual(
        expect.arrayContaining([
          { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(a), size: a.length, artifactType: 'application/vnd.example.sbom', annotations: { 'org.example.note': 'a' } },
          { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(b), size: b.length, artifactType: 'application/vnd.example.signature', annotations: { 'org.example.note': 'b' } },
        ]),
      );
    });

    requirement('R-DISC-6', 'referrers ?artifactType= filters and says so with OCI-Filters-Applied', async () => {
      const { target, subject, a } = await pushReferrers();
      const response = await client.request('GET', `/v2/${target}/referrers/${subject.digest}?artifactType=application/vnd.example.sbom`);
      expect(response.status).toBe(200);
      expect(response.header('oci-filters-applied')).toBe('artifactType');
      expect(response.json().manifests.map((m: { digest: string }) => m.digest)).toEqual([sha256(a)]);
    });
  });

  // ================================================================ content management

  describe('content management', () => {
    requirement('R-DEL-1', 'DELETE of a tag removes only that tag, at once', async () => {
      const name = repo('delete');
      const image = await pushImage(name, 'keep');
      expect((await client.pushManifest(name, 'drop', image.manifest)).status).toBe(201);
      expect((await client.request('DELETE', `/v2/${name}/manifests/drop`)).status).toBe(202);
      expect((await client.request('GET', `/v2/${name}/manifests/drop`)).status).toBe(404);
      expect((await client.request('GET', `/v2/${name}/manifests/keep`)).status).toBe(200);
      expect((await client.request('GET', `/v2/${name}/tags/list`)).json().tags).toEqual(['keep']);
    });

    requirement('R-DEL-2', 'DELETE of a manifest by digest removes it and every tag on it', async () => {
      const name = repo('delete');
      const image = await pushImage(name, 'one');
      await client.pushManifest(name, 'two', image.manifest);
      expect((await client.request('DELETE', `/v2/${name}/manifests/${image.digest}`)).status).toBe(202);
      for (const reference of [image.digest, 'one', 'two']) expect((await client.request('GET', `/v2/${name}/manifests/${reference}`)).status).toBe(404);
      expect((await client.request('DELETE', `/v2/${name}/manifests/${image.digest}`)).status).toBe(404);
    });

    requirement('R-DEL-3', 'DELETE of a blob: 202, then 404 at once; unknown is 404', async () => {
      const name = repo('delete');
      const bytes = randomBlob(300);
      await client.pushBlob(name, bytes);
      expect((await client.request('DELETE', `/v2/${name}/blobs/${sha256(bytes)}`)).status).toBe(202);
      expect((await client.request('HEAD', `/v2/${name}/blobs/${sha256(bytes)}`)).status).toBe(404);
      expect((await client.request('DELETE', `/v2/${name}/blobs/${sha256(bytes)}`)).status).toBe(404);
    });

    requirement('R-DEL-4', 'a deleted referrer leaves the referrers list', async () => {
      const name = repo('delete');
      const subject = await pushImage(name, 'subject');
      const empty = Buffer.from('{}');
      await client.pushBlob(name, empty);
      const artifact = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          artifactType: 'application/vnd.example.sbom',
          config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(empty), size: 2 },
          layers: [],
          subject: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: subject.digest, size: subject.manifest.length },
        }),
      );
      await client.pushManifest(name, sha256(artifact), artifact);
      expect((await client.request('GET', `/v2/${name}/referrers/${subject.digest}`)).json().manifests).toHaveLength(1);
      expect((await client.request('DELETE', `/v2/${name}/manifests/${sha256(artifact)}`)).status).toBe(202);
      const after = await client.request('GET', `/v2/${name}/referrers/${subject.digest}`);
      expect(after.status).toBe(200);
      expect(after.json().manifests).toEqual([]);
    });
  });
}
