import { createServer, request, Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { HttpDrain } from './graceful-stop';

/** A real HTTP server on 127.0.0.1: a never-ending chunked stream, an upload, an upgrade. */
const responseErrors: Error[] = [];

function startServer(): Promise<{ server: Server; drain: HttpDrain; port: number }> {
  const server = createServer((req, res) => {
    if (req.url === '/stream') {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.write('{"line":1}\n');
      // Keeps writing like a `logs -f` handler that does not know the server is stopping.
      const timer = setInterval(() => res.write('{"tick":true}\n'), 20);
      res.on('close', () => setTimeout(() => clearInterval(timer), 100));
      res.on('error', (error) => responseErrors.push(error));
      return;
    }
    if (req.url === '/upload') {
      let bytes = 0;
      req.on('data', (chunk: Buffer) => (bytes += chunk.length));
      req.on('end', () => res.end(JSON.stringify({ bytes })));
      return;
    }
    res.end('ok');
  });
  server.on('upgrade', (_req, socket) => socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: tcp\r\nConnection: Upgrade\r\n\r\n'));
  const drain = new HttpDrain(server);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, drain, port: (server.address() as AddressInfo).port })));
}

describe('HttpDrain', () => {
  it('ends open-ended streams cleanly, lets a short upload finish, ends upgraded sockets, and stops listening', async () => {
    const { server, drain, port } = await startServer();
    const streamEnded = new Promise<{ complete: boolean; body: string }>((resolve) => {
      request({ port, host: '127.0.0.1', path: '/stream' }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ complete: res.complete, body }));
      }).end();
    });
    const uploadDone = new Promise<{ status?: number; body: string }>((resolve, reject) => {
      const req = request({ port, host: '127.0.0.1', path: '/upload', method: 'PUT', headers: { 'content-length': '2000' } }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode, body }));
      });
      req.on('error', reject);
      req.write(Buffer.alloc(1000));
      // The rest arrives after the stop began: it must still be accepted.
      setTimeout(() => req.end(Buffer.alloc(1000)), 300);
    });
    const upgradedClosed = new Promise<void>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => socket.write('GET /attach HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n'));
      socket.on('data', () => undefined);
      socket.on('end', () => resolve());
      socket.on('close', () => resolve());
    });
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    const result = await drain.drain(Date.now() + 3_000);
    expect(result.cut).toBe(0);
    expect(Date.now() - started).toBeLessThan(1_500);
    const stream = await streamEnded;
    expect(stream.complete).toBe(true);
    expect(stream.body.startsWith('{"line":1}\n')).toBe(true);
    expect(await uploadDone).toEqual({ status: 200, body: '{"bytes":2000}' });
    await upgradedClosed;
    expect(server.listening).toBe(false);
    await new Promise((r) => setTimeout(r, 150)); // the handler keeps writing after the end: never an error
    expect(responseErrors).toEqual([]);
  });

  it('cuts a request still open at the deadline', async () => {
    const { drain, port } = await startServer();
    const req = request({ port, host: '127.0.0.1', path: '/upload', method: 'PUT', headers: { 'content-length': '1000000' } });
    const failed = new Promise<Error>((resolve) => req.on('error', resolve));
    req.write(Buffer.alloc(10));
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    expect((await drain.drain(Date.now() + 300)).cut).toBe(1);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect((await failed).message).toMatch(/socket hang up|ECONNRESET/);
  });
});

describe('HttpDrain, a stream that starts after the stop began', () => {
  it('is ended too, instead of being cut at the deadline', async () => {
    const server = createServer((_req, res) => {
      // The handler is still working (auth, a bus round trip) when the stop begins.
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(': connected\n\n');
      }, 300);
    });
    const drain = new HttpDrain(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as AddressInfo).port;
    const ended = new Promise<boolean>((resolve) => {
      request({ port, host: '127.0.0.1', path: '/events' }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.complete));
        res.on('error', () => resolve(false));
      }).end();
    });
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    expect((await drain.drain(Date.now() + 3_000)).cut).toBe(0);
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(await ended).toBe(true);
  });
});
