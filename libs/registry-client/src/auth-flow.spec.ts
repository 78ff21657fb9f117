import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { buffer } from 'node:stream/consumers';
import { createRegistryClient, DigestMismatchError, HttpRegistryClient, RegistryAuthError } from './index';
import { parseChallenge } from './auth';

// A small stand-in for a token-protected registry: enough to prove the client's side of the
// Docker token flow (challenge → token with Basic credentials → retry) and its digest checks.
function fakeRegistry() {
  const tokenRequests: URLSearchParams[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    if (url.pathname === '/token') {
      tokenRequests.push(url.searchParams);
      if (req.headers.authorization !== `Basic ${Buffer.from('alice:s3cret').toString('base64')}`) return void res.writeHead(401).end();
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: `tok-${url.searchParams.get('scope')}`, expires_in: 300 }));
    }
    const scope = url.pathname.startsWith('/v2/lib/app/') ? 'repository:lib/app:pull' : '';
    if (req.headers.authorization !== `Bearer tok-${scope}`) {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://127.0.0.1:${(server.address() as AddressInfo).port}/token",service="fake",scope="${scope}"` });
      return void res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'auth required' }] }));
    }
    if (url.pathname.endsWith('/blobs/sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824')) return void res.writeHead(200).end('hello');
    if (url.pathname.includes('/blobs/')) return void res.writeHead(200).end('tampered');
    return void res.writeHead(404).end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'nope' }] }));
  });
  return { server, tokenRequests };
}

describe('registry client auth and verification', () => {
  const { server, tokenRequests } = fakeRegistry();
  let base: string;

  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('answers a bearer challenge with a token fetched using Basic credentials, then reuses it', async () => {
    const client = createRegistryClient({ baseUrl: base, credentials: { username: 'alice', password: 's3cret' } });
    const digest = 'sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824';
    expect((await buffer(await client.getBlob('lib/app', digest))).toString()).toBe('hello');
    expect((await buffer(await client.getBlob('lib/app', digest))).toString()).toBe('hello');
    expect(tokenRequests).toHaveLength(1);
    expect(tokenRequests[0].get('service')).toBe('fake');
    expect(tokenRequests[0].getAll('scope')).toEqual(['repository:lib/app:pull']);
  });

  it('obtains a bearer token for a scope, to hand to another process instead of the password', async () => {
    tokenRequests.length = 0;
    const client = new HttpRegistryClient({ baseUrl: base, credentials: { username: 'alice', password: 's3cret' } });
    expect(await client.bearerToken('repository:lib/app:pull')).toBe('tok-repository:lib/app:pull');
    expect(tokenRequests.map((r) => r.getAll('scope'))).toEqual([['repository:lib/app:pull']]);
    const anonymous = new HttpRegistryClient({ baseUrl: base });
    await expect(anonymous.bearerToken('repository:lib/app:pull')).rejects.toThrow(RegistryAuthError);
    const refused = new HttpRegistryClient({ baseUrl: base, credentials: { username: 'alice', password: 'wrong' } });
    await expect(refused.bearerToken('repository:lib/app:pull')).rejects.toThrow(/credentials refused/);
  });

  it('reports refused credentials as an auth error', async () => {
    const client = createRegistryClient({ baseUrl: base, credentials: { username: 'alice', password: 'wrong' } });
    await expect(client.headBlob('lib/app', 'sha256:' + 'a'.repeat(64))).rejects.toThrow(RegistryAuthError);
  });

  it('fails a blob whose bytes do not hash to its digest', async () => {
    const client = createRegistryClient({ baseUrl: base, credentials: { username: 'alice', password: 's3cret' } });
    const blob = await client.getBlob('lib/app', `sha256:${'b'.repeat(64)}`);
    await expect(buffer(blob)).rejects.toThrow(DigestMismatchError);
  });

  it('parses challenges with quoted commas and escapes', () => {
    expect(parseChallenge('Bearer realm="https://a/token",service="reg",scope="repository:x/y:pull,push"')).toEqual({
      scheme: 'bearer',
      params: { realm: 'https://a/token', service: 'reg', scope: 'repository:x/y:pull,push' },
    });
    expect(parseChallenge('Basic realm="registry"')?.scheme).toBe('basic');
    expect(parseChallenge('Negotiate')).toBeNull();
  });
});
