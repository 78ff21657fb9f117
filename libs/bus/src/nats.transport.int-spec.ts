import { Controller, INestMicroservice, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { defineEvent, defineRequest, UnavailableError } from '@muelle/contracts';
import { NATS_TEST_URL } from '@muelle/testing';
import { z } from 'zod';
import { BusClient } from './bus-client';
import { HandleEvent, HandleRequest } from './handlers';
import { createBusClientProxy, createBusServer } from './transport';
import { describeBusTransport } from './testing/bus-transport.suite';

describeBusTransport('nats', () => ({ kind: 'nats', url: NATS_TEST_URL }));

describeBusTransport('nats with a namespace', () => ({ kind: 'nats', url: NATS_TEST_URL, namespace: `ns-${process.pid}` }));

describe('bus namespaces on one NATS server', () => {
  const whoAmI = defineRequest('muelle.test-ns.whoami.v1', z.object({}), z.object({ installation: z.string() }));
  const servers: INestMicroservice[] = [];
  const clients: BusClient[] = [];

  const serve = async (installation: string) => {
    @Controller()
    class WhoAmIController {
      @HandleRequest(whoAmI)
      whoAmI() {
        return { installation };
      }
    }
    @Module({ controllers: [WhoAmIController] })
    class WhoAmIModule {}
    const server = await NestFactory.createMicroservice(WhoAmIModule, {
      strategy: createBusServer({ kind: 'nats', url: NATS_TEST_URL, namespace: installation }, 'test'),
      logger: false,
    });
    await server.listen();
    servers.push(server);
  };
  const clientOf = async (namespace: string) => {
    const client = new BusClient(createBusClientProxy({ kind: 'nats', url: NATS_TEST_URL, namespace }, 'test'));
    await client.connect();
    clients.push(client);
    return client;
  };

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(servers.map((s) => s.close()));
  });

  it('keeps two installations with the same services apart', async () => {
    const a = `a${process.pid}`;
    const b = `b${process.pid}`;
    await serve(a);
    await serve(b);
    const clientA = await clientOf(a);
    const clientB = await clientOf(b);
    for (let i = 0; i < 10; i++) {
      expect(await clientA.request(whoAmI, {})).toEqual({ installation: a });
      expect(await clientB.request(whoAmI, {})).toEqual({ installation: b });
    }
    const stranger = await clientOf(`c${process.pid}`);
    await expect(stranger.request(whoAmI, {})).rejects.toThrow(UnavailableError);
  });
});

describe('events to every replica', () => {
  const shared = defineEvent('muelle.test-replicas.shared.v1', z.object({ n: z.number() }));
  const broadcast = defineEvent('muelle.test-replicas.broadcast.v1', z.object({ n: z.number() }));
  const servers: INestMicroservice[] = [];
  const seen: Array<{ replica: number; kind: string }> = [];
  let client: BusClient;

  const replica = async (index: number, namespace: string) => {
    @Controller()
    class Listener {
      @HandleEvent(shared)
      onShared() {
        seen.push({ replica: index, kind: 'shared' });
      }

      @HandleEvent(broadcast, { everyReplica: true })
      onBroadcast() {
        seen.push({ replica: index, kind: 'broadcast' });
      }
    }
    @Module({ controllers: [Listener] })
    class ListenerModule {}
    const server = await NestFactory.createMicroservice(ListenerModule, { strategy: createBusServer({ kind: 'nats', url: NATS_TEST_URL, namespace }, 'test'), logger: false });
    await server.listen();
    servers.push(server);
  };

  afterAll(async () => {
    await client?.close();
    await Promise.all(servers.map((s) => s.close()));
  });

  it('delivers an everyReplica event to each replica of a queue group, and a plain one to one of them', async () => {
    const namespace = `r${process.pid}`;
    await replica(1, namespace);
    await replica(2, namespace);
    client = new BusClient(createBusClientProxy({ kind: 'nats', url: NATS_TEST_URL, namespace }, 'test'));
    await client.connect();
    for (let n = 0; n < 5; n++) {
      await client.emit(shared, { n });
      await client.emit(broadcast, { n });
    }
    for (let i = 0; i < 50 && seen.length < 15; i++) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 100));
    expect(seen.filter((s) => s.kind === 'shared')).toHaveLength(5);
    expect(seen.filter((s) => s.kind === 'broadcast' && s.replica === 1)).toHaveLength(5);
    expect(seen.filter((s) => s.kind === 'broadcast' && s.replica === 2)).toHaveLength(5);
  });
});
