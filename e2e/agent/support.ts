import { BusClient, createBusClientProxy, Frame, FrameType, newStreamId, StreamEnd } from '@muelle/bus';
import { agentContracts } from '@muelle/contracts';
import { eventually, freePort, NATS_TEST_URL, serviceEntry, spawnNode, ServiceProcess } from '@muelle/testing';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO = resolve(__dirname, '..', '..');
export const isRoot = process.getuid?.() === 0;
export const newId = () => randomBytes(32).toString('hex');

/** Builds a busybox OCI layout locally and pushes it with skopeo (apt-get install skopeo busybox-static). */
export function pushBusybox(registryUrl: string, repository = 'busybox', tag = 'latest'): string {
  const layout = mkdtempSync(join(tmpdir(), 'agent-e2e-layout-'));
  execFileSync('node', [join(REPO, 'tools/images/make-oci-layout.mjs'), layout, '--busybox', '--tag', tag], { stdio: 'pipe' });
  const host = new URL(registryUrl).host;
  execFileSync('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:${tag}`, `docker://${host}/${repository}:${tag}`], { stdio: 'pipe' });
  return `${host}/${repository}:${tag}`;
}

export interface AgentUnderTest {
  hostId: string;
  dataDir: string;
  url: string;
  process: ServiceProcess;
}

export async function startAgentProcess(env: Record<string, string>, dataDir = mkdtempSync(join(tmpdir(), 'agent-e2e-data-')), hostId = `e2e-${randomBytes(3).toString('hex')}`): Promise<AgentUnderTest> {
  const port = await freePort();
  const child = spawnNode('agent', serviceEntry('agent'), {
    NATS_URL: NATS_TEST_URL,
    // The machine's shared test NATS has no users (see libs/testing startNatsServer for one that has).
    MUELLE_BUS_INSECURE: 'true',
    MUELLE_AGENT_PORT: String(port),
    MUELLE_DATA_DIR: dataDir,
    MUELLE_HOST_ID: hostId,
    MUELLE_LOG_LEVEL: 'warn',
    ...env,
  });
  return { hostId, dataDir, url: `http://127.0.0.1:${port}`, process: child };
}

export async function connectBus(): Promise<BusClient> {
  const bus = new BusClient(createBusClientProxy({ kind: 'nats', url: NATS_TEST_URL }, 'api'));
  await bus.connect();
  return bus;
}

/** Runs one stream session (logs/exec/attach) to its end; returns stdout, stderr and the exit frame. */
export async function session(
  bus: BusClient,
  begin: (streamId: string) => Promise<unknown>,
  input: Array<[FrameType, string]> = [],
  timeoutMs = 20_000,
): Promise<{ stdout: string; stderr: string; exit?: { exitCode: number }; error?: { message: string } }> {
  const streamId = newStreamId();
  let stdout = '';
  let stderr = '';
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`stream timed out; stdout so far: ${stdout}`)), timeoutMs);
    const end = new StreamEnd(bus.streams(), streamId, 'client', (type, payload) => {
      if (type === Frame.Stdout) stdout += payload.toString();
      else if (type === Frame.Stderr) stderr += payload.toString();
      else if (type === Frame.Exit || type === Frame.Error) {
        clearTimeout(timer);
        end.close();
        const body = JSON.parse(payload.toString());
        resolvePromise(type === Frame.Exit ? { stdout, stderr, exit: body } : { stdout, stderr, error: body });
      }
    });
    begin(streamId).then(
      () => {
        end.send(Frame.Ready);
        for (const [type, data] of input) end.send(type, data);
      },
      (error) => {
        clearTimeout(timer);
        end.close();
        reject(error);
      },
    );
  });
}

export const contractsFor = agentContracts;

/** Until the agent answers on the bus (it needs no metadata for that). */
export async function waitForAgent(bus: BusClient, hostId: string): Promise<void> {
  await eventually(() => bus.request(agentContracts(hostId).list, {}, { timeoutMs: 1000 }), { timeoutMs: 30_000 });
}

/** A non-loopback IPv4 address of this host (the source of its default route, else one not on a bridge). */
export function hostAddress(): string {
  try {
    const route = execFileSync('ip', ['-o', '-4', 'route', 'get', '1.1.1.1'], { encoding: 'utf8' });
    const src = / src (\d+\.\d+\.\d+\.\d+)/.exec(route)?.[1];
    if (src) return src;
  } catch {
    // no default route
  }
  for (const [name, addresses] of Object.entries(networkInterfaces())) {
    if (existsSync(`/sys/class/net/${name}/bridge`)) continue;
    const found = addresses?.find((a) => a.family === 'IPv4' && !a.internal);
    if (found) return found.address;
  }
  throw new Error('this host has no non-loopback IPv4 address');
}

/** Sends one datagram and resolves with the first reply (rejects after timeoutMs). */
export function udpRoundTrip(address: string, port: number, message: string, timeoutMs = 1000): Promise<string> {
  const socket = createSocket('udp4');
  return new Promise<string>((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`no UDP reply from ${address}:${port} within ${timeoutMs} ms`)), timeoutMs);
    socket.on('message', (reply) => {
      clearTimeout(timer);
      resolvePromise(reply.toString());
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.send(message, port, address);
  }).finally(() => socket.close());
}
