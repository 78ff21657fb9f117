import { once } from 'node:events';
import { createServer, connect, type Socket } from 'node:net';
import type { ExecInfo } from '@muelle/contracts';
import type { StreamSession } from '../containers/stream-session';
import { DockerHijack } from './hijack';
import { encodeExecId } from './exec-ids';

const CONTAINER = 'c'.repeat(64);
const EXEC = 'e'.repeat(64);
const tick = (ms = 30) => new Promise((resolve) => setTimeout(resolve, ms));

/** What the exec's session was told, in order. */
function fakeSession() {
  const calls: string[] = [];
  const stdin: Buffer[] = [];
  const session: StreamSession = {
    id: 's1',
    stdin: (data) => (stdin.push(Buffer.from(data)), true),
    stdinDrained: async () => undefined,
    closeStdin: () => void calls.push('closeStdin'),
    resize: () => undefined,
    close: () => void calls.push('close'),
    detach: () => void calls.push('detach'),
  };
  return { session, calls, stdin: () => Buffer.concat(stdin).toString('latin1') };
}

/** `docker exec start` on a real loopback socket pair, the exec as `info` describes it. */
async function startExec(info: Partial<ExecInfo>) {
  const fake = fakeSession();
  const exec: ExecInfo = { id: EXEC, containerId: CONTAINER, cmd: ['sh'], tty: true, attachStdin: true, detachKeys: '', running: true, exitCode: null, pid: 7, ...info };
  const containers = { execInspect: async () => exec, execStart: async () => ({ session: fake.session, exec }) };
  const sessions = { addResizable: () => () => undefined };
  const logger = { debug: () => undefined, error: () => undefined };
  const hijack = new DockerHijack({} as never, {} as never, containers as never, sessions as never, logger as never, {} as never);
  // As the HTTP server's sockets: a client's half-close leaves our side open.
  const server = createServer({ allowHalfOpen: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const client = connect((server.address() as { port: number }).port, '127.0.0.1');
  const [socket] = await accepted;
  let received = '';
  client.on('data', (chunk) => (received += chunk.toString('latin1')));
  const closed = once(client, 'close');
  const started = (hijack as unknown as { execStart: (...args: unknown[]) => Promise<void> }).execStart({}, { headers: { 'content-length': '0' } }, socket, Buffer.alloc(0), encodeExecId(CONTAINER, EXEC));
  await started;
  return { ...fake, client, closed, received: () => received, stop: () => (client.destroy(), server.close()) };
}

describe('docker exec start: detach keys and the end of input', () => {
  it("watches the create's DetachKeys on a tty with stdin: input before them goes on, then the exec is detached (not closed, its stdin left open)", async () => {
    const run = await startExec({ detachKeys: 'ctrl-x,x' });
    run.client.write('ls\r\x18');
    await tick();
    run.client.write('x');
    await run.closed;
    await tick();
    expect(run.received()).toMatch(/^HTTP\/1.1 101 UPGRADED\r\n[^]*\r\n\r\n$/);
    expect({ stdin: run.stdin(), calls: run.calls }).toEqual({ stdin: 'ls\r', calls: ['detach', 'close'] });
    run.stop();
  });

  // The client's input, then what reached the exec's stdin; the exec is detached, never its input ended.
  it.each([
    ['ctrl-p ctrl-q when the create gave none', { input: 'a\x10\x11b', end: false, stdin: 'a' }],
    ["the end of the client's input (the docker CLI over TCP half-closes on the keys), as dockerd with a tty", { input: 'pwd\r', end: true, stdin: 'pwd\r' }],
  ])('detaches a tty exec with stdin on %s', async (_name, { input, end, stdin }) => {
    const run = await startExec({});
    if (end) run.client.end(input);
    else run.client.write(input);
    await run.closed;
    await tick();
    expect({ stdin: run.stdin(), calls: run.calls }).toEqual({ stdin, calls: ['detach', 'close'] });
    run.stop();
  });

  it("without a tty the keys are input and the input's end is the exec's (closeStdin), output still flowing", async () => {
    const run = await startExec({ tty: false });
    run.client.end('\x10\x11');
    await tick(100);
    expect({ stdin: run.stdin(), calls: run.calls }).toEqual({ stdin: '\x10\x11', calls: ['closeStdin'] });
    run.stop();
  });
});
