import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import type { Io } from './commands';
import { runCli } from './main';

/** `muelle pull` sends the source registry's credentials only when given, in the request body. */
describe('muelle pull --registry-user/--registry-password', () => {
  const bodies: Array<Record<string, unknown>> = [];
  const api: Server = createServer((req, res) => {
    let text = '';
    req.on('data', (d) => (text += d));
    req.on('end', () => {
      bodies.push(JSON.parse(text));
      res.writeHead(200, { 'content-type': 'application/x-ndjson' }).end(`${JSON.stringify({ status: 'done', digest: `sha256:${'a'.repeat(64)}`, reference: 'team/tool:1' })}\n`);
    });
  });
  const io = () => ({ out: new PassThrough(), err: new PassThrough() }) as unknown as Omit<Io, 'exitCode'>;

  beforeAll(async () => {
    await new Promise<void>((r) => api.listen(0, '127.0.0.1', () => r()));
    process.env.MUELLE_API = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
    process.env.MUELLE_TOKEN = 'mle_test';
  });
  afterAll(async () => {
    delete process.env.MUELLE_API;
    delete process.env.MUELLE_TOKEN;
    await new Promise((r) => api.close(r));
  });
  beforeEach(() => (bodies.length = 0));

  it('passes them as sourceAuth', async () => {
    expect(await runCli(['pull', 'ghcr.io/acme/tool:1', '--registry-user', 'alice', '--registry-password', 'hub-secret'], io())).toBe(0);
    expect(bodies[0]).toMatchObject({ image: 'ghcr.io/acme/tool:1', sourceAuth: { username: 'alice', password: 'hub-secret' } });
  });

  it('sends none without them', async () => {
    expect(await runCli(['pull', 'ghcr.io/acme/tool:1'], io())).toBe(0);
    expect(bodies[0]?.sourceAuth).toBeUndefined();
  });

  it('refuses a password without a user', async () => {
    const streams = io();
    let err = '';
    streams.err.on('data', (d) => (err += d));
    expect(await runCli(['pull', 'ghcr.io/acme/tool:1', '--registry-password', 'x'], streams)).toBe(125);
    expect(err).toContain('--registry-password needs --registry-user');
    expect(bodies).toEqual([]);
  });
});
