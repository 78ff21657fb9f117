import { Controller, INestMicroservice, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { defineRequest, UnavailableError } from '@muelle/contracts';
import { NATS_TEST_URL } from '@muelle/testing';
import { z } from 'zod';
import { BusClient } from './bus-client';
import { HandleRequest } from './handlers';
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
