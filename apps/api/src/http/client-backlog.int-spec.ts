import { createServer, Server, Socket, connect } from 'node:net';
import { boundedWriter } from './client-backlog';

/** A loopback connection whose client side reads only when told to: a slow client, for real. */
async function connection(): Promise<{ server: Server; serverSide: Socket; client: Socket }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  const client = connect((server.address() as { port: number }).port, '127.0.0.1');
  client.pause();
  return { server, serverSide: await accepted, client };
}

const MiB = 1024 * 1024;
const chunk = Buffer.alloc(64 * 1024, 'y');
const tick = () => new Promise((r) => setImmediate(r));

describe('the backlog bound toward a streaming client', () => {
  let open: { server: Server; serverSide: Socket; client: Socket } | undefined;
  afterEach(() => {
    open?.client.destroy();
    open?.serverSide.destroy();
    open?.server.close();
  });

  it('cuts a client that does not read once the limit is queued, and holds no more than the limit', async () => {
    open = await connection();
    const { serverSide } = open;
    let cuts = 0;
    let peak = 0;
    const write = boundedWriter<Uint8Array>(serverSide, (c) => void serverSide.write(c), () => cuts++, MiB);
    // A flood: 64 MiB offered, far more than the kernel's socket buffers take.
    for (let i = 0; i < 1024; i++) {
      write(chunk);
      peak = Math.max(peak, serverSide.writableLength);
      if (i % 16 === 0) await tick();
    }
    expect(cuts).toBe(1);
    expect(peak).toBeLessThanOrEqual(MiB);
  });

  it('lets a client that keeps up receive everything', async () => {
    open = await connection();
    const { serverSide, client } = open;
    let received = 0;
    client.on('data', (data: Buffer) => (received += data.length));
    client.resume();
    let cuts = 0;
    const write = boundedWriter<Uint8Array>(serverSide, (c) => void serverSide.write(c), () => cuts++, MiB);
    for (let i = 0; i < 128; i++) {
      write(chunk);
      // The producer yields as a container's pipe does between reads.
      while (serverSide.writableLength > MiB / 2) await new Promise((r) => serverSide.once('drain', r));
    }
    await new Promise<void>((resolve) => serverSide.end(resolve));
    await new Promise((r) => client.once('end', r));
    expect(cuts).toBe(0);
    expect(received).toBe(128 * chunk.length);
  });
});
