import { basicAuth } from '@muelle/testing';
import { createHash } from 'node:crypto';

/** Chunked pushes and byte-exact pulls over /v2 for the chaos suites (plain fetch: every answer is seen). */
export const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

export interface PushedImage {
  name: string;
  tag: string;
  manifest: Buffer;
  blobs: Buffer[];
}

/** A /v2 answer the push did not expect, with what a client would show. */
export class PushRefused extends Error {
  constructor(
    readonly step: string,
    readonly status: number,
    readonly body: string,
    readonly retryAfter: string | null,
    /** The upload session the refusal cut, for the DELETE a client sends to cancel it. */
    readonly upload?: string,
  ) {
    super(`${step}: ${status} ${body}`);
  }
}

export async function registryAuth(registry: string, name: string, user: string, password: string): Promise<Record<string, string>> {
  const response = await fetch(`${registry}/v2/token?service=muelle-registry&scope=repository:${name}:push,pull,delete`, { headers: basicAuth(user, password) });
  return { authorization: `Bearer ${((await response.json()) as { token: string }).token}` };
}

async function expectStatus(step: string, response: Response, status: number, upload?: string): Promise<Response> {
  if (response.status !== status) throw new PushRefused(step, response.status, await response.text(), response.headers.get('retry-after'), upload);
  return response;
}

/**
 * Pushes one config and one layer in `chunkBytes` PATCHes, then the manifest under `tag`. The
 * default config has no root file system (a registry-only image); pass one to make it runnable.
 */
export async function pushImage(
  registry: string,
  auth: Record<string, string>,
  name: string,
  tag: string,
  layer: Buffer,
  chunkBytes = 1024 * 1024,
  config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', tag })),
): Promise<PushedImage> {
  for (const blob of [config, layer]) {
    const started = await expectStatus('POST upload', await fetch(`${registry}/v2/${name}/blobs/uploads/`, { method: 'POST', headers: auth }), 202);
    let location = started.headers.get('location')!;
    for (let offset = 0; offset < blob.length; offset += chunkBytes) {
      const chunk = blob.subarray(offset, offset + chunkBytes);
      const patched = await fetch(new URL(location, registry), {
        method: 'PATCH',
        headers: { ...auth, 'content-type': 'application/octet-stream', 'content-range': `${offset}-${offset + chunk.length - 1}` },
        body: chunk,
      });
      location = (await expectStatus('PATCH', patched, 202, new URL(location, registry).href)).headers.get('location')!;
    }
    const url = new URL(location, registry);
    url.searchParams.set('digest', sha256(blob));
    await expectStatus('PUT blob', await fetch(url, { method: 'PUT', headers: auth }), 201);
  }
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(layer), size: layer.length }],
    }),
  );
  const put = await fetch(`${registry}/v2/${name}/manifests/${tag}`, { method: 'PUT', headers: { ...auth, 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: manifest });
  await expectStatus('PUT manifest', put, 201);
  return { name, tag, manifest, blobs: [config, layer] };
}

/** Whether the manifest and every blob pull back byte-identical. */
export async function pullsIdentical(registry: string, auth: Record<string, string>, image: PushedImage): Promise<boolean> {
  const manifest = Buffer.from(await (await fetch(`${registry}/v2/${image.name}/manifests/${image.tag}`, { headers: { ...auth, accept: 'application/vnd.oci.image.manifest.v1+json' } })).arrayBuffer());
  if (!manifest.equals(image.manifest)) return false;
  for (const blob of image.blobs) {
    const pulled = Buffer.from(await (await fetch(`${registry}/v2/${image.name}/blobs/${sha256(blob)}`, { headers: auth })).arrayBuffer());
    if (!pulled.equals(blob)) return false;
  }
  return true;
}
