import { basicAuth, serviceEntry, spawnNode, waitReady, ServiceProcess } from '@muelle/testing';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allInOneEnv } from './all-in-one-env';

/**
 * Generated malformed requests against every route of the OpenAPI document, the Docker API routes
 * clients use most and the registry's /v2 routes, on a real all-in-one (in-process bus, PGlite,
 * no container runtime). Any 5xx fails — except the 503 that names the missing runtime, which
 * is this platform's honest answer. Bounded: a fixed number of runs per route, seeded.
 */
const RUNS_PER_ROUTE = 12;
const SEED = Number(process.env.BAD_INPUT_SEED ?? 20261203);
const PASSWORD = 'bad-input-pw';
const ODD_METHODS = ['PROPFIND', 'PATCH', 'PUT', 'DELETE', 'OPTIONS', 'HEAD'];

interface Answer {
  status: number;
  body: string;
}

/** One raw request (any method, the target exactly as given); streams are cut once their status is known. */
function send(base: string, method: string, target: string, headers: Record<string, string>, body?: Buffer): Promise<Answer> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path: target, headers: { ...headers, ...(body ? { 'content-length': String(body.length) } : {}) } }, (res) => {
      let text = '';
      const timer = setTimeout(() => {
        res.destroy();
        resolve({ status: res.statusCode ?? 0, body: text });
      }, 1_500);
      res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, body: text });
      });
      res.on('error', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.setTimeout(15_000, () => req.destroy(new Error(`${method} ${target}: no answer within 15 s`)));
    req.on('error', (error: NodeJS.ErrnoException) => {
      // The server may close a connection while we still send a too-large body, after its answer.
      if (error.code === 'EPIPE' || error.code === 'ECONNRESET') resolve({ status: 0, body: error.code });
      else reject(error);
    });
    req.end(body);
  });
}

/** Values that broke something once or might: NUL bytes, broken escapes, huge and odd numbers, bad references. */
const nasty = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(
    '\u0000',
    'a\u0000b',
    '%00',
    '%',
    '%E0%A4%A',
    '%C0%80',
    '..',
    '../../etc/passwd',
    '-1',
    '0',
    '99999999999999999999',
    '1e309',
    'NaN',
    'true',
    'localhost:99999/a',
    'localhost:0/a',
    '[:::::]:5000/a',
    'A/B:C@sha256:xyz',
    '\ud800',
    'é',
    'x'.repeat(5_000),
  ) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
);
/** Mostly the route's own method (so the request reaches its handler), sometimes one it does not take. */
const methodOf = (declared: string) => fc.oneof({ weight: 4, arbitrary: fc.constant(declared) }, { weight: 1, arbitrary: fc.constantFrom(...ODD_METHODS) });

/** Percent-encodes what a request line cannot carry, but keeps the deliberately broken escapes raw. */
function encodePart(value: string): string {
  if (/^%|%[0-9A-F]{2}/.test(value) && !/[\s\u0000-\u001f\u007f-\uffff]/.test(value)) return value;
  try {
    return encodeURIComponent(value);
  } catch {
    // A lone surrogate cannot be encoded: send its replacement, still an odd byte sequence.
    return encodeURIComponent(value.replace(/[\ud800-\udfff]/g, '\ufffd'));
  }
}

const jsonBody = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }).map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
  fc.dictionary(fc.constantFrom('name', 'image', 'Image', 'Cmd', 'Env', 'HostConfig', 'ports', 'env', 'command', 'labels', 'tags', 'source', 'target', 'password', 'role', 'team'), fc.oneof(nasty, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(nasty, { maxLength: 3 }), fc.dictionary(nasty, nasty, { maxKeys: 2 })), { maxKeys: 5 }).map((v) => Buffer.from(JSON.stringify(v))),
  fc.constantFrom(Buffer.from('{"name":'), Buffer.from('not json'), Buffer.from('{"image":"a\\u0000b"}'), Buffer.from([0xff, 0xfe, 0x00])),
);
const HUGE_BODY = Buffer.from(JSON.stringify({ name: 'x', padding: 'y'.repeat(2 * 1024 * 1024) }));

interface RouteTemplate {
  method: string;
  path: string;
  query: string[];
  json: boolean;
  docker?: boolean;
}

describe('every route answers malformed requests with 4xx, never 5xx', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'muelle-bad-input-'));
  let platform: ServiceProcess;
  let api = '';
  let registry = '';
  let failures: string[] = [];
  beforeEach(() => (failures = []));

  const statuses = new Map<number, number>();
  const check = (what: string, answer: Answer) => {
    statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
    if (process.env.BAD_INPUT_VERBOSE) process.stdout.write(`${answer.status} ${what.slice(0, 160)}\n`);
    if (answer.status < 500) return;
    if (answer.status === 503 && /MUELLE_RUNTIME=disabled/.test(answer.body)) return;
    if (answer.status === 501 && what.includes('[docker]')) return; // a Docker endpoint Muelle does not implement, named
    failures.push(`${what} → ${answer.status} ${answer.body.slice(0, 200)}`);
  };

  beforeAll(async () => {
    const target = await allInOneEnv(dataDir, PASSWORD, 'fuzz', { MUELLE_RUNTIME: 'disabled' });
    platform = spawnNode('all-in-one', serviceEntry('all-in-one'), target.env);
    api = target.api;
    registry = target.registry;
    await waitReady(api, 60_000);
    await waitReady(registry, 30_000);
  }, 90_000);

  afterAll(async () => {
    process.stdout.write(`bad-input answers by status: ${JSON.stringify(Object.fromEntries(statuses))}\n`);
    await platform?.stop();
  });

  it('the API: every OpenAPI operation and the main Docker routes', async () => {
    const document = (await (await fetch(`${api}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { parameters?: { in: string; name: string }[]; requestBody?: unknown }>>;
    };
    const routes: RouteTemplate[] = [];
    for (const [path, operations] of Object.entries(document.paths))
      for (const [method, operation] of Object.entries(operations))
        routes.push({ method: method.toUpperCase(), path, query: (operation.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name), json: !!operation.requestBody });
    expect(routes.length).toBeGreaterThan(30);
    routes.push(
      { method: 'POST', path: '/containers/create', query: ['name', 'platform'], json: true, docker: true },
      { method: 'GET', path: '/containers/json', query: ['all', 'limit', 'filters'], json: false, docker: true },
      { method: 'GET', path: '/containers/{id}/json', query: [], json: false, docker: true },
      { method: 'GET', path: '/containers/{id}/logs', query: ['stdout', 'tail', 'since'], json: false, docker: true },
      { method: 'POST', path: '/containers/{id}/start', query: [], json: false, docker: true },
      { method: 'POST', path: '/images/create', query: ['fromImage', 'tag'], json: false, docker: true },
      { method: 'GET', path: '/images/{id}/json', query: [], json: false, docker: true },
      { method: 'POST', path: '/v1.41/build', query: ['t', 'dockerfile', 'buildargs'], json: false, docker: true },
      { method: 'POST', path: '/v1.41/exec/{id}/start', query: [], json: true, docker: true },
    );
    const auth = basicAuth('admin', PASSWORD);
    for (const [index, route] of routes.entries()) {
      // One oversized body per route that takes one: 413 naming the limit.
      if (route.json) {
        const answer = await send(api, route.method, route.path.replace(/\{[^}]+\}/g, 'x'), { ...auth, 'content-type': 'application/json' }, HUGE_BODY);
        check(`${route.method} ${route.path} with a 2 MiB body`, answer);
        if (answer.status !== 0) expect(answer.status).toBe(413);
      }
      await fc.assert(
        fc.asyncProperty(
          fc.array(nasty, { minLength: 4, maxLength: 4 }),
          fc.array(fc.tuple(fc.constantFrom(...route.query, 'unknown'), nasty), { maxLength: 3 }),
          fc.option(jsonBody, { nil: undefined }),
          methodOf(route.method),
          fc.oneof({ weight: 5, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
          async (pathValues, query, body, method, authenticated) => {
            let i = 0;
            const path = route.path.replace(/\{[^}]+\}/g, () => encodePart(pathValues[i++] || 'x'));
            const search = query.map(([k, v]) => `${k}=${encodePart(v)}`).join('&');
            const target = search ? `${path}?${search}` : path;
            const headers: Record<string, string> = { ...(authenticated ? auth : {}), ...(body ? { 'content-type': route.path.includes('build') ? 'application/x-tar' : 'application/json' } : {}) };
            check(`${method} ${target}${route.docker ? ' [docker]' : ''}`, await send(api, method, target, headers, body));
          },
        ),
        { numRuns: RUNS_PER_ROUTE, seed: SEED + index, endOnFailure: true },
      );
    }
    expect(failures).toEqual([]);
  }, 120_000);

  it('the registry: every /v2 route kind with bad names, references, digests, upload ids and query parameters', async () => {
    const token = (await (await fetch(`${registry}/v2/token?service=muelle-registry&scope=repository:fuzz/a:push,pull,delete`, { headers: basicAuth('admin', PASSWORD) })).json()) as { token: string };
    const bearer = { authorization: `Bearer ${token.token}` };
    // A real repository, so bad query parameters reach the code behind the name check.
    const config = Buffer.from('{}');
    const digest = `sha256:${createHash('sha256').update(config).digest('hex')}`;
    expect((await send(registry, 'POST', `/v2/fuzz/a/blobs/uploads/?digest=${digest}`, { ...bearer, 'content-type': 'application/octet-stream' }, config)).status).toBe(201);
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest, size: 2 }, layers: [] }));
    expect((await send(registry, 'PUT', '/v2/fuzz/a/manifests/v1', { ...bearer, 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, manifest)).status).toBe(201);

    const templates: RouteTemplate[] = [
      { method: 'GET', path: '/v2/_catalog', query: ['n', 'last'], json: false },
      { method: 'GET', path: '/v2/{name}/tags/list', query: ['n', 'last'], json: false },
      { method: 'GET', path: '/v2/{name}/manifests/{ref}', query: [], json: false },
      { method: 'PUT', path: '/v2/{name}/manifests/{ref}', query: ['tag'], json: true },
      { method: 'DELETE', path: '/v2/{name}/manifests/{ref}', query: [], json: false },
      { method: 'GET', path: '/v2/{name}/blobs/{digest}', query: [], json: false },
      { method: 'POST', path: '/v2/{name}/blobs/uploads/', query: ['digest', 'mount', 'from'], json: false },
      { method: 'PATCH', path: '/v2/{name}/blobs/uploads/{id}', query: [], json: false },
      { method: 'PUT', path: '/v2/{name}/blobs/uploads/{id}', query: ['digest'], json: false },
      { method: 'GET', path: '/v2/{name}/referrers/{digest}', query: ['artifactType'], json: false },
      { method: 'GET', path: '/v2/token', query: ['scope', 'service', 'account'], json: false },
    ];
    const names = fc.oneof(fc.constant('fuzz/a'), nasty);
    for (const [index, route] of templates.entries()) {
      await fc.assert(
        fc.asyncProperty(
          names,
          fc.array(fc.oneof(nasty, fc.constant(digest), fc.constant('v1'), fc.uuid()), { minLength: 2, maxLength: 2 }),
          fc.array(fc.tuple(fc.constantFrom(...route.query, 'n', 'unknown'), fc.oneof(nasty, fc.constant(digest))), { maxLength: 3 }),
          fc.option(jsonBody, { nil: undefined }),
          methodOf(route.method),
          async (name, values, query, body, method) => {
            let i = 0;
            const path = route.path.replace('{name}', name === 'fuzz/a' ? name : encodePart(name)).replace(/\{[^}]+\}/g, () => encodePart(values[i++] || 'x'));
            const search = query.map(([k, v]) => `${k}=${encodePart(v)}`).join('&');
            const target = search ? `${path}?${search}` : path;
            const contentType = route.path.includes('manifests') ? 'application/vnd.oci.image.manifest.v1+json' : 'application/octet-stream';
            check(`${method} ${target}`, await send(registry, method, target, { ...bearer, ...(body ? { 'content-type': contentType } : {}) }, body));
          },
        ),
        { numRuns: RUNS_PER_ROUTE * 2, seed: SEED + 1000 + index, endOnFailure: true },
      );
    }
    // A manifest listing more blobs than the bus contract carries: 400 naming the limit.
    const layers = Array.from({ length: 10_001 }, (_, n) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${n.toString(16).padStart(64, '0')}`, size: 1 }));
    const oversized = await send(registry, 'PUT', '/v2/fuzz/a/manifests/big', { ...bearer, 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, Buffer.from(JSON.stringify({ ...JSON.parse(manifest.toString()), layers })));
    expect(oversized.status).toBe(400);
    expect(oversized.body).toMatch(/MANIFEST_INVALID.*10000/);
    expect(failures).toEqual([]);
  }, 120_000);
});
