import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { credentialsFor, createRegistryClient, RegistryAuthError, tokenRealmRefusal } from './index';

const listen = async (server: Server) => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return (server.address() as AddressInfo).port;
};

// A registry whose token realm is another server (another 127.0.0.1 port = another host:port):
// the realm records every request it gets, so a leaked password would show.
describe('token realm on another host', () => {
  const realmRequests: IncomingHttpHeaders[] = [];
  const realm = createServer((req, res) => {
    realmRequests.push(req.headers);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: 'anon' }));
  });
  let realmPort: number;
  const registry = createServer((req, res) => {
    if (req.headers.authorization !== 'Bearer anon') {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://127.0.0.1:${realmPort}/token",service="elsewhere"` });
      return void res.end();
    }
    res.writeHead(200).end('hello');
  });
  let base: string;

  beforeAll(async () => {
    realmPort = await listen(realm);
    base = `http://127.0.0.1:${await listen(registry)}`;
  });
  beforeEach(() => (realmRequests.length = 0));
  afterAll(async () => {
    await new Promise((r) => realm.close(r));
    await new Promise((r) => registry.close(r));
  });

  it('refuses to send credentials there, naming the realm, and the realm sees nothing', async () => {
    const client = createRegistryClient({ baseUrl: base, credentials: { username: 'alice', password: 's3cret' } });
    const attempt = client.headBlob('lib/app', `sha256:${'a'.repeat(64)}`);
    await expect(attempt).rejects.toThrow(RegistryAuthError);
    await expect(attempt).rejects.toThrow(`token realm http://127.0.0.1:${realmPort} is not on the registry's host`);
    expect(realmRequests).toEqual([]);
  });

  it('lets an anonymous client fetch a pull token there (nothing secret is sent)', async () => {
    const client = createRegistryClient({ baseUrl: base });
    expect(await client.headBlob('lib/app', `sha256:${'a'.repeat(64)}`)).not.toBeNull();
    expect(realmRequests).toHaveLength(1);
    expect(realmRequests[0]?.authorization).toBeUndefined();
  });
});

describe('tokenRealmRefusal', () => {
  const reg = new URL('https://registry.example:5000');
  it.each([
    ['same host, https', 'https://registry.example:5000/token', true, null],
    ['another port', 'https://registry.example:5001/token', true, /not on the registry's host registry.example:5000/],
    ['another host', 'https://evil.example/token', true, /not on the registry's host/],
    ['another host, anonymous', 'https://auth.example/token', false, null],
    ['plain http for an https registry', 'http://registry.example:5000/token', true, /plain http while the registry registry.example:5000 is https/],
    ['plain http, anonymous', 'http://registry.example:5000/token', false, /plain http/],
    ['not http at all', 'file:///etc/passwd', false, /is not http/],
  ])('%s', (_name, realm, withCredentials, expected) => {
    const refusal = tokenRealmRefusal(new URL(realm), reg, withCredentials);
    if (expected === null) expect(refusal).toBeNull();
    else expect(refusal).toMatch(expected);
  });
});

describe('credentialsFor', () => {
  const own = { username: 'alice', password: 'muelle-password' };
  const hub = { username: 'alice-hub', password: 'hub-token' };
  const sources = { ownRegistry: 'muelle.internal:5000', own, explicit: { 'ghcr.io': hub } };
  it("gives Muelle's registry the Muelle login", () => expect(credentialsFor('muelle.internal:5000', sources)).toBe(own));
  it('gives another registry only what was given for it', () => expect(credentialsFor('GHCR.io', sources)).toBe(hub));
  it('gives any other registry nothing', () => {
    expect(credentialsFor('docker.io', sources)).toBeUndefined();
    expect(credentialsFor('muelle.internal:5001', sources)).toBeUndefined();
  });
  it('explicit credentials for the own registry win', () => {
    const token = { token: 'robot' };
    expect(credentialsFor('muelle.internal:5000', { ...sources, explicit: { 'muelle.internal:5000': token } })).toBe(token);
  });
});
