import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { createRegistryClient, registryEndpoint, RegistryUnreachableError } from './index';

// A plain-http registry on loopback. Reached as `[::ffff:127.0.0.1]:port` it stands in for a
// registry on another machine: the same socket, but an address the loopback rule does not cover.
describe('which registries may be reached over plain http', () => {
  let server: Server;
  let port: number;
  beforeAll(async () => {
    server = createServer((_req, res) => res.writeHead(200, { 'docker-distribution-api-version': 'registry/2.0' }).end('{}'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('always tries HTTPS; plain http only for loopback and listed registries', () => {
    expect(registryEndpoint('registry.internal:5000')).toEqual({ baseUrl: 'https://registry.internal:5000', plainHttpFallback: false });
    expect(registryEndpoint('10.0.0.5:5000', ['registry.internal:5000'])).toEqual({ baseUrl: 'https://10.0.0.5:5000', plainHttpFallback: false });
    expect(registryEndpoint('10.0.0.5:5000', ['10.0.0.5:5000']).plainHttpFallback).toBe(true);
    for (const loopback of ['127.0.0.1:5000', 'localhost:5000', '[::1]:5000', '127.3.0.1']) expect(registryEndpoint(loopback).plainHttpFallback).toBe(true);
    expect(registryEndpoint('127.0.0.1.evil.example:5000').plainHttpFallback).toBe(false);
  });

  it('falls back to plain http for a loopback registry that does not speak TLS', async () => {
    await expect(createRegistryClient(registryEndpoint(`127.0.0.1:${port}`)).ping()).resolves.toBeUndefined();
  });

  it('refuses plain http to a registry that is not loopback unless it is listed', async () => {
    const remote = `[::ffff:127.0.0.1]:${port}`;
    const refused = createRegistryClient(registryEndpoint(remote)).ping();
    await expect(refused).rejects.toThrow(RegistryUnreachableError);
    await expect(refused).rejects.toMatchObject({ socketCode: 'EPROTO' });
    await expect(createRegistryClient(registryEndpoint(remote, [remote])).ping()).resolves.toBeUndefined();
  });
});
