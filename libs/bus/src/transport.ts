import { ClientNats, ClientProxy, CustomTransportStrategy, MsPattern, ServerNats } from '@nestjs/microservices';
import type { NatsConnection, Subscription } from 'nats';
import { InProcessBroker } from './in-process-broker';
import { InProcessClient, InProcessServer } from './in-process.transport';

/** Which bus a service talks on: NATS between machines, or an in-process broker in the all-in-one. */
export type BusTransport = { kind: 'nats'; url: string; namespace?: string } | { kind: 'in-process'; broker: InProcessBroker };

/**
 * Several Muelle installations (or test runs) may share one NATS server: a namespace prefixes every
 * subject they use, so their queue groups never take each other's requests.
 */
const prefixOf = (namespace?: string) => (namespace ? `${namespace}.` : '');

class NamespacedServerNats extends ServerNats {
  constructor(
    private readonly natsOptions: ConstructorParameters<typeof ServerNats>[0] & { queue: string },
    private readonly prefix: string,
  ) {
    super(natsOptions);
  }

  // Same as Nest's, with the prefix on the wire subject; handlers stay keyed by the plain subject.
  override bindEvents(client: NatsConnection): void {
    const defaultQueue = this.natsOptions.queue;
    const subscriptions = (this as unknown as { subscriptions: Subscription[] }).subscriptions;
    for (const [channel, handler] of this.messageHandlers) {
      const queue = (handler.extras?.queue as string | undefined) ?? defaultQueue;
      subscriptions.push(client.subscribe(`${this.prefix}${channel}`, { queue, callback: this.getMessageHandler(channel).bind(this) }));
    }
  }
}

class NamespacedClientNats extends ClientNats {
  constructor(
    options: ConstructorParameters<typeof ClientNats>[0],
    private readonly prefix: string,
  ) {
    super(options);
  }

  protected override normalizePattern(pattern: MsPattern): string {
    return `${this.prefix}${super.normalizePattern(pattern)}`;
  }
}

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
  const options = { ...natsConnectionOptions(transport.url, `muelle-${service}-server`), queue: `${prefixOf(transport.namespace)}muelle.${service}` };
  return transport.namespace ? new NamespacedServerNats(options, prefixOf(transport.namespace)) : new ServerNats(options);
}

export function createBusClientProxy(transport: BusTransport, service: string): ClientProxy {
  if (transport.kind === 'in-process') return new InProcessClient(transport.broker);
  const options = natsConnectionOptions(transport.url, `muelle-${service}-client`);
  const client = transport.namespace ? new NamespacedClientNats(options, prefixOf(transport.namespace)) : new ClientNats(options);
  return client as unknown as ClientProxy;
}

export function describeTransport(transport: BusTransport): string {
  if (transport.kind === 'in-process') return 'in-process';
  return transport.namespace ? `nats ${transport.url} (namespace ${transport.namespace})` : `nats ${transport.url}`;
}
