import { createServer, connect, Server, Socket } from 'node:net';
import { ConflictError } from '@muelle/contracts';
import type { ResolvedPort } from '@muelle/contracts';

/**
 * Userland TCP proxy for published ports (like docker-proxy): listens on hostIp:hostPort and
 * forwards each connection to the container address. Works for 127.0.0.1 and every host address.
 */
export class PortProxy {
  private readonly servers = new Map<string, Server[]>();

  async open(containerId: string, targetIp: string, ports: ResolvedPort[]): Promise<void> {
    const servers: Server[] = [];
    try {
      for (const port of ports) {
        if (port.protocol !== 'tcp') continue;
        servers.push(await listen(port, targetIp));
      }
    } catch (error) {
      servers.forEach((s) => s.close());
      throw error;
    }
    this.close(containerId);
    this.servers.set(containerId, servers);
  }

  close(containerId: string): void {
    for (const server of this.servers.get(containerId) ?? []) server.close();
    this.servers.delete(containerId);
  }

  closeAll(): void {
    for (const id of [...this.servers.keys()]) this.close(id);
  }
}

function listen(port: ResolvedPort, targetIp: string): Promise<Server> {
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
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new ConflictError(`port ${port.hostIp}:${port.hostPort}/tcp is already in use`) : error),
    );
    server.listen({ host: port.hostIp, port: port.hostPort }, () => resolve(server));
  });
}

/** Resolves hostPort 0 and checks the port is free right now (create-time validation). */
export async function probePort(hostIp: string, hostPort: number): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new ConflictError(`port ${hostIp}:${hostPort}/tcp is already in use`) : error),
    );
    server.listen({ host: hostIp, port: hostPort }, () => resolve());
  });
  const address = server.address();
  await new Promise((r) => server.close(r));
  return typeof address === 'object' && address ? address.port : hostPort;
}
