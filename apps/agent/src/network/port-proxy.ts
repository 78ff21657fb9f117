import { createSocket, RemoteInfo, Socket as UdpSocket } from 'node:dgram';
import { createServer, connect, Socket } from 'node:net';
import { ConflictError } from '@muelle/contracts';
import type { ResolvedPort } from '@muelle/contracts';

/** How long a UDP flow (one client address:port) keeps its upstream socket without traffic. */
export const UDP_FLOW_IDLE_MS = 60_000;

interface Listener {
  close(): void;
}

/**
 * Userland proxy for published ports (like docker-proxy): listens on hostIp:hostPort and forwards
 * to the container address. Works for 127.0.0.1 and every host address, TCP and UDP.
 */
export class PortProxy {
  private readonly listeners = new Map<string, Listener[]>();

  constructor(private readonly udpIdleMs = UDP_FLOW_IDLE_MS) {}

  async open(containerId: string, targetIp: string, ports: ResolvedPort[]): Promise<void> {
    const listeners: Listener[] = [];
    try {
      for (const port of ports) {
        listeners.push(port.protocol === 'udp' ? await listenUdp(port, targetIp, this.udpIdleMs) : await listenTcp(port, targetIp));
      }
    } catch (error) {
      listeners.forEach((l) => l.close());
      throw error;
    }
    this.close(containerId);
    this.listeners.set(containerId, listeners);
  }

  close(containerId: string): void {
    for (const listener of this.listeners.get(containerId) ?? []) listener.close();
    this.listeners.delete(containerId);
  }

  closeAll(): void {
    for (const id of [...this.listeners.keys()]) this.close(id);
  }
}

function inUse(port: { hostIp: string; hostPort: number }, protocol: 'tcp' | 'udp') {
  return new ConflictError(`port ${port.hostIp}:${port.hostPort}/${protocol} is already in use`);
}

function listenTcp(port: ResolvedPort, targetIp: string): Promise<Listener> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect({ host: targetIp, port: port.containerPort });
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  server.on('close', () => sockets.forEach((s) => s.destroy()));
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(error.code === 'EADDRINUSE' ? inUse(port, 'tcp') : error));
    server.listen({ host: port.hostIp, port: port.hostPort }, () => resolve(server));
  });
}

const udpFamily = (ip: string) => (ip.includes(':') ? 'udp6' : 'udp4');

/**
 * One socket on hostIp:hostPort; each client address:port gets its own upstream socket to the
 * container, so the container sees distinct peers and its replies go back to the right client.
 */
function listenUdp(port: ResolvedPort, targetIp: string, idleMs: number): Promise<Listener> {
  const listener = createSocket({ type: udpFamily(port.hostIp) });
  const flows = new Map<string, { upstream: UdpSocket; idle: NodeJS.Timeout }>();
  const endFlow = (key: string) => {
    const flow = flows.get(key);
    if (!flow) return;
    clearTimeout(flow.idle);
    flow.upstream.close();
    flows.delete(key);
  };
  const flowFor = (client: RemoteInfo) => {
    const key = `${client.address}:${client.port}`;
    const existing = flows.get(key);
    if (existing) {
      existing.idle.refresh();
      return existing;
    }
    const upstream = createSocket({ type: udpFamily(targetIp) });
    const flow = { upstream, idle: setTimeout(() => endFlow(key), idleMs).unref() };
    upstream.on('message', (reply) => {
      flow.idle.refresh();
      listener.send(reply, client.port, client.address);
    });
    upstream.on('error', () => endFlow(key));
    flows.set(key, flow);
    return flow;
  };
  listener.on('message', (datagram, client) => flowFor(client).upstream.send(datagram, port.containerPort, targetIp));
  return new Promise((resolve, reject) => {
    listener.once('error', (error: NodeJS.ErrnoException) => reject(error.code === 'EADDRINUSE' ? inUse(port, 'udp') : error));
    listener.bind({ address: port.hostIp, port: port.hostPort, exclusive: true }, () => {
      // After bind, a send error (e.g. ICMP unreachable) must not take the agent down.
      listener.removeAllListeners('error');
      listener.on('error', () => undefined);
      resolve({
        close() {
          for (const key of [...flows.keys()]) endFlow(key);
          listener.close();
        },
      });
    });
  });
}

/** Resolves hostPort 0 and checks the port is free right now (create-time validation). */
export async function probePort(hostIp: string, hostPort: number, protocol: 'tcp' | 'udp' = 'tcp'): Promise<number> {
  if (protocol === 'udp') {
    const socket = createSocket({ type: udpFamily(hostIp) });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', (error: NodeJS.ErrnoException) => reject(error.code === 'EADDRINUSE' ? inUse({ hostIp, hostPort }, 'udp') : error));
      socket.bind({ address: hostIp, port: hostPort, exclusive: true }, () => resolve());
    });
    const bound = socket.address().port;
    await new Promise<void>((r) => socket.close(() => r()));
    return bound;
  }
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(error.code === 'EADDRINUSE' ? inUse({ hostIp, hostPort }, 'tcp') : error));
    server.listen({ host: hostIp, port: hostPort }, () => resolve());
  });
  const address = server.address();
  await new Promise((r) => server.close(r));
  return typeof address === 'object' && address ? address.port : hostPort;
}
