import { ClientNats, ClientProxy, CustomTransportStrategy, ServerNats } from '@nestjs/microservices';
import { InProcessBroker } from './in-process-broker';
import { InProcessClient, InProcessServer } from './in-process.transport';

/** Which bus a service talks on: NATS between machines, or an in-process broker in the all-in-one. */
export type BusTransport = { kind: 'nats'; url: string } | { kind: 'in-process'; broker: InProcessBroker };

// Keep trying forever: a service outlives NATS restarts and turns ready again by itself.
const natsConnectionOptions = (url: string, name: string) => ({
  servers: url.split(','),
  name,
  waitOnFirstConnect: true,
  maxReconnectAttempts: -1,
  reconnectTimeWait: 500,
  pingInterval: 5_000,
  maxPingOut: 2,
});

/**
 * The server side. Replicas of a service share one queue group, so each request is handled once.
 */
export function createBusServer(transport: BusTransport, service: string): CustomTransportStrategy {
  if (transport.kind === 'in-process') return new InProcessServer(transport.broker);
  return new ServerNats({ ...natsConnectionOptions(transport.url, `muelle-${service}-server`), queue: `muelle.${service}` });
}

export function createBusClientProxy(transport: BusTransport, service: string): ClientProxy {
  if (transport.kind === 'in-process') return new InProcessClient(transport.broker);
  return new ClientNats(natsConnectionOptions(transport.url, `muelle-${service}-client`)) as unknown as ClientProxy;
}

export function describeTransport(transport: BusTransport): string {
  return transport.kind === 'nats' ? `nats ${transport.url}` : 'in-process';
}
