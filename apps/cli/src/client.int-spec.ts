import { makeTestCertificates } from '@muelle/testing';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { ApiClient } from './client';
import { CliError } from './errors';

/** The CLI's HTTP client (node:http/https) against real servers on 127.0.0.1, plain and TLS. */
describe('ApiClient over node:http', () => {
  const seen: Array<{ method: string; url: string; headers: IncomingMessage['headers']; body: string }> = [];
  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    seen.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString() });
    if (req.url!.startsWith('/v1/missing')) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'NOT_FOUND', message: 'no such container: x' } }));
    } else if (req.url!.startsWith('/v1/denied')) {
      res.writeHead(401).end('not json');
    } else if (req.url!.startsWith('/v1/lines')) {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.write('{"n":1}\n{"n"');
      setTimeout(() => res.end(':2}\n{"n":3}'), 20);
    } else {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true }));
    }
  };
  const servers: Server[] = [];
  const listen = async (server: Server) => {
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  };
  let plain: string;
  let tls: string;
  let certificates: ReturnType<typeof makeTestCertificates>;
  const savedCa = process.env.MUELLE_TLS_CA;

  beforeAll(async () => {
    certificates = makeTestCertificates();
    plain = `http://127.0.0.1:${await listen(createHttpServer(handler))}`;
    tls = `https://127.0.0.1:${await listen(createHttpsServer({ cert: readFileSync(certificates.cert), key: readFileSync(certificates.key) }, handler))}`;
  });
  afterAll(async () => {
    process.env.MUELLE_TLS_CA = savedCa;
    for (const server of servers) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
  beforeEach(() => {
    seen.length = 0;
    delete process.env.MUELLE_TLS_CA;
  });

  it('sends the token, query and JSON body, and parses the JSON answer', async () => {
    const api = new ApiClient({ api: plain, token: 'mle_secret' });
    expect(await api.request('POST', '/v1/containers', { body: { image: 'busybox' }, query: { all: true, label: ['a=1', 'b=2'], skip: undefined } })).toEqual({ ok: true });
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/v1/containers?all=true&label=a%3D1&label=b%3D2', body: '{"image":"busybox"}' });
    expect(seen[0].headers).toMatchObject({ authorization: 'Bearer mle_secret', 'content-type': 'application/json', 'content-length': '19', 'user-agent': 'muelle-cli' });
  });

  it('streams a request body and reads an NDJSON answer line by line, across chunk boundaries', async () => {
    const api = new ApiClient({ api: plain });
    const response = await api.send('POST', '/v1/lines', { raw: Readable.from([Buffer.from('tar '), Buffer.from('bytes')]), accept: 'application/x-ndjson' });
    const lines = [];
    for await (const line of api.lines(response)) lines.push(line);
    expect(lines).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect(seen[0]).toMatchObject({ body: 'tar bytes', headers: { 'content-type': 'application/x-tar', 'transfer-encoding': 'chunked' } });
  });

  it("turns an api error into the api's message, and a 401 into a login hint", async () => {
    const api = new ApiClient({ api: plain });
    await expect(api.request('GET', '/v1/missing')).rejects.toMatchObject({ message: 'no such container: x', code: 'NOT_FOUND' });
    await expect(api.request('GET', '/v1/denied')).rejects.toThrow('not json (run "muelle login" or set MUELLE_TOKEN)');
  });

  it('names the api it cannot reach', async () => {
    const closed = createHttpServer();
    const port = await listen(closed);
    await new Promise((resolve) => closed.close(resolve));
    const error = await new ApiClient({ api: `http://127.0.0.1:${port}` }).request('GET', '/v1/info').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CliError);
    expect((error as Error).message).toBe(`Cannot connect to the Muelle API at http://127.0.0.1:${port}. Is it running? (connect ECONNREFUSED 127.0.0.1:${port})`);
  });

  it('verifies an https api against MUELLE_TLS_CA, and refuses it without', async () => {
    await expect(new ApiClient({ api: tls }).request('GET', '/v1/info')).rejects.toThrow(/Cannot connect .*(self-signed|unable to verify|self signed)/);
    process.env.MUELLE_TLS_CA = certificates.ca;
    expect(await new ApiClient({ api: tls }).request('GET', '/v1/info')).toEqual({ ok: true });
  });
});
