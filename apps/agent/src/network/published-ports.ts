import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { ConflictError, InvalidArgumentError } from '@muelle/contracts';
import type { ResolvedPort } from '@muelle/contracts';
import type { PublishedPortRule } from './rules';

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** The kernel rules of one container's published ports (see rules.ts: DNAT in the host's firewall). */
export function publishedPortRules(targetIp: string, ports: readonly ResolvedPort[]): PublishedPortRule[] {
  return ports.map((p) => ({ hostIp: p.hostIp, hostPort: p.hostPort, protocol: p.protocol, targetIp, targetPort: p.containerPort }));
}

function inUse(port: { hostIp: string; hostPort: number }, protocol: 'tcp' | 'udp') {
  return new ConflictError(`port ${port.hostIp}:${port.hostPort}/${protocol} is already in use`);
}

/**
 * Create-time validation: refuses host addresses the kernel forwarding cannot serve (IPv6: the
 * containers only have IPv4), resolves hostPort 0 and checks no program on the host listens on the
 * port right now. The forwarding itself holds no socket (DNAT wins over a later listener).
 */
export async function probePort(hostIp: string, hostPort: number, protocol: 'tcp' | 'udp' = 'tcp'): Promise<number> {
  if (!IPV4.test(hostIp)) throw new InvalidArgumentError(`published port host address ${hostIp}: only IPv4 host addresses can be published (containers have IPv4 addresses)`);
  if (protocol === 'udp') {
    const socket = createSocket({ type: 'udp4' });
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
