import { makeTestCertificates, RunningNats, startNatsServer } from '@muelle/testing';
import { nkeys } from 'nats';
import { BusClient } from './bus-client';
import { describeBusTransport } from './testing/bus-transport.suite';
import { createBusClientProxy, NatsBus } from './transport';

// Private nats-servers that require credentials, as production does: the whole transport suite
// (requests, errors, events, streams) must hold on each way of authenticating.
const nkeyUser = nkeys.createUser();
const servers: Record<'user' | 'token' | 'nkey' | 'tls', RunningNats> = {} as never;
let ca: string;

beforeAll(async () => {
  const certificates = makeTestCertificates();
  ca = certificates.ca;
  servers.user = await startNatsServer();
  servers.token = await startNatsServer({ auth: { token: 'bus-token-of-this-test-0123456789' } });
  servers.nkey = await startNatsServer({ auth: { nkeys: [nkeyUser.getPublicKey()] } });
  servers.tls = await startNatsServer({ tls: { cert: certificates.cert, key: certificates.key } });
}, 30_000);

afterAll(async () => {
  await Promise.all(Object.values(servers).map((server) => server.stop()));
});

const userBus = (server: RunningNats): NatsBus => ({ kind: 'nats', url: server.url, auth: { kind: 'user', user: server.env.NATS_USER, password: server.env.NATS_PASSWORD } });

describeBusTransport('nats with user and password', () => userBus(servers.user));
describeBusTransport('nats with a token', () => ({ kind: 'nats', url: servers.token.url, auth: { kind: 'token', token: servers.token.env.NATS_TOKEN } }));
describeBusTransport('nats with an NKey', () => ({ kind: 'nats', url: servers.nkey.url, auth: { kind: 'nkey', seed: new TextDecoder().decode(nkeyUser.getSeed()) } }));
describeBusTransport('nats over TLS with user and password', () => ({ ...userBus(servers.tls), tls: { caFile: ca } }));

describe('a NATS that requires credentials', () => {
  const connectWith = async (bus: NatsBus) => {
    const client = new BusClient(createBusClientProxy(bus, 'test'));
    try {
      await client.connect();
    } finally {
      await client.close().catch(() => undefined); // the refused connection is already closed
    }
  };

  it('refuses a client without credentials, with an authorization error', async () => {
    await expect(connectWith({ kind: 'nats', url: servers.user.url })).rejects.toMatchObject({ code: 'AUTHORIZATION_VIOLATION' });
  }, 20_000);

  it('refuses a wrong password and an unknown NKey', async () => {
    await expect(connectWith({ ...userBus(servers.user), auth: { kind: 'user', user: 'muelle', password: 'not-the-password' } })).rejects.toMatchObject({ code: 'AUTHORIZATION_VIOLATION' });
    const stranger = new TextDecoder().decode(nkeys.createUser().getSeed());
    await expect(connectWith({ kind: 'nats', url: servers.nkey.url, auth: { kind: 'nkey', seed: stranger } })).rejects.toMatchObject({ code: 'AUTHORIZATION_VIOLATION' });
  }, 20_000);
});
