import { ClientNats, ClientProxy, CustomTransportStrategy, MsPattern, ServerNats } from '@nestjs/microservices';
import { credsAuthenticator, nkeyAuthenticator, type Authenticator, type NatsConnection, type Subscription } from 'nats';
import { InProcessBroker } from './in-process-broker';
import { InProcessClient, InProcessServer } from './in-process.transport';

/** How a service proves itself to NATS: exactly one of these (the server decides which it accepts). */
export type NatsAuth =
  | { kind: 'user'; user: string; password: string }
  | { kind: 'token'; token: string }
  | { kind: 'nkey'; seed: string }
  /** The contents of a `.creds` file (a user JWT and its NKey seed). */
  | { kind: 'creds'; creds: string };

/** TLS to NATS: PEM file paths (a CA given here is the only one trusted for NATS). */
export interface NatsTls {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

export interface NatsBus {
  kind: 'nats';
  url: string;
  namespace?: string;
  /** Undefined only when the operator said the bus is open on purpose (MUELLE_BUS_INSECURE=true). */
  auth?: NatsAuth;
  tls?: NatsTls;
}

/** Which bus a service talks on: NATS between machines, or an in-process broker in the all-in-one. */
export type BusTransport = NatsBus | { kind: 'in-process'; broker: InProcessBroker };

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

function credentialOptions(auth: NatsAuth | undefined): { user?: string; pass?: string; token?: string; authenticator?: Authenticator } {
  switch (auth?.kind) {
    case undefined:
      return {};
    case 'user':
      return { user: auth.user, pass: auth.password };
    case 'token':
      return { token: auth.token };
    case 'nkey':
      return { authenticator: nkeyAuthenticator(new TextEncoder().encode(auth.seed.trim())) };
    case 'creds':
      return { authenticator: credsAuthenticator(new TextEncoder().encode(auth.creds)) };
  }
}

// Keep trying forever: a service outlives NATS restarts and turns ready again by itself. A server
// that refuses our credentials twice in a row ends the attempts (nats.js's rule): retrying
// refused credentials only fills the server's log.
const natsConnectionOptions = (bus: NatsBus, name: string) => ({
  servers: bus.url.split(','),
  name,
  waitOnFirstConnect: true,
  maxReconnectAttempts: -1,
  reconnectTimeWait: 500,
  pingInterval: 5_000,
  maxPingOut: 2,
  ...credentialOptions(bus.auth),
  ...(bus.tls ? { tls: { ...bus.tls } } : {}),
});

/**
 * The server side. Replicas of a service share one queue group, so each request is handled once.
 */
export function createBusServer(transport: BusTransport, service: string): CustomTransportStrategy {
  if (transport.kind === 'in-process') return new InProcessServer(transport.broker);
  const options = { ...natsConnectionOptions(transport, `muelle-${service}-server`), queue: `${prefixOf(transport.namespace)}muelle.${service}` };
  return transport.namespace ? new NamespacedServerNats(options, prefixOf(transport.namespace)) : new ServerNats(options);
}

export function createBusClientProxy(transport: BusTransport, service: string): ClientProxy {
  if (transport.kind === 'in-process') return new InProcessClient(transport.broker);
  const options = natsConnectionOptions(transport, `muelle-${service}-client`);
  const client = transport.namespace ? new NamespacedClientNats(options, prefixOf(transport.namespace)) : new ClientNats(options);
  return client as unknown as ClientProxy;
}

export function describeTransport(transport: BusTransport): string {
  if (transport.kind === 'in-process') return 'in-process';
  const security = `${transport.auth ? `${transport.auth.kind} credentials` : 'no credentials'}${transport.tls ? ', tls' : ''}`;
  return `nats ${transport.url} (${transport.namespace ? `namespace ${transport.namespace}, ` : ''}${security})`;
}
