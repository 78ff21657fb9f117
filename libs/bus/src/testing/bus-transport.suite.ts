import { Controller, INestMicroservice, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { defineEvent, defineRequest, InvalidMessageError, NotFoundError, TimeoutError, UnavailableError } from '@muelle/contracts';
import { z } from 'zod';
import { BusClient } from '../bus-client';
import { HandleEvent, HandleRequest } from '../handlers';
import { BusTransport, createBusClientProxy, createBusServer } from '../transport';
import { Frame, FrameType, newStreamId, StreamEnd } from '../streams';

const suffix = `t${process.pid}${Math.floor(Math.random() * 1e6)}`;
const add = defineRequest(`muelle.test-${suffix}.add.v1`, z.object({ a: z.number(), b: z.number() }), z.object({ sum: z.number() }));
const fail = defineRequest(`muelle.test-${suffix}.fail.v1`, z.object({ kind: z.enum(['not-found', 'crash', 'bad-reply']) }), z.object({ ok: z.boolean() }));
const slow = defineRequest(`muelle.test-${suffix}.slow.v1`, z.object({ ms: z.number() }), z.object({ done: z.boolean() }), 300);
const nobody = defineRequest(`muelle.test-${suffix}.nobody.v1`, z.object({}), z.object({}), 300);
const noted = defineEvent(`muelle.test-${suffix}.noted.v1`, z.object({ note: z.string() }));

const received: string[] = [];

@Controller()
class TestController {
  @HandleRequest(add)
  add(request: { a: number; b: number }) {
    return { sum: request.a + request.b };
  }

  @HandleRequest(fail)
  fail(request: { kind: string }) {
    if (request.kind === 'not-found') throw new NotFoundError('no such thing', { id: 42 });
    if (request.kind === 'bad-reply') return { ok: 'yes' } as unknown as { ok: boolean };
    throw new Error('database password is hunter2');
  }

  @HandleRequest(slow)
  async slow(request: { ms: number }) {
    await new Promise((r) => setTimeout(r, request.ms));
    return { done: true };
  }

  @HandleEvent(noted)
  noted(event: { note: string }) {
    received.push(event.note);
  }
}

@Module({ controllers: [TestController] })
class TestModule {}

/**
 * One behavioural suite for every bus transport (in-process and NATS): what services rely on
 * must hold on both, or the all-in-one and the distributed platform would behave differently.
 */
export function describeBusTransport(name: string, makeTransport: () => BusTransport) {
  describe(`bus transport: ${name}`, () => {
    let server: INestMicroservice;
    let bus: BusClient;

    beforeAll(async () => {
      const transport = makeTransport();
      server = await NestFactory.createMicroservice(TestModule, { strategy: createBusServer(transport, 'test'), logger: false });
      await server.listen();
      bus = new BusClient(createBusClientProxy(transport, 'test'));
      await bus.connect();
    });

    afterAll(async () => {
      await bus?.close();
      await server?.close();
    });

    it('carries a request and its reply', async () => {
      await expect(bus.request(add, { a: 2, b: 40 })).resolves.toEqual({ sum: 42 });
    });

    it('rejects an invalid request before sending it, with a typed error naming the field', async () => {
      await expect(bus.request(add, { a: 2, b: 'x' } as never)).rejects.toThrow(InvalidMessageError);
      await expect(bus.request(add, { a: 2, b: 'x' } as never)).rejects.toThrow(/b:/);
    });

    it('answers a raw invalid message (sent around the typed client) with a typed error reply, and keeps serving', async () => {
      const raw = createBusClientProxy(makeTransport(), 'raw');
      await raw.connect();
      const { firstValueFrom } = await import('rxjs');
      await expect(firstValueFrom(raw.send(add.subject, { a: 'one' }))).rejects.toMatchObject({ code: 'INVALID_MESSAGE' });
      await raw.close();
      await expect(bus.request(add, { a: 1, b: 1 })).resolves.toEqual({ sum: 2 });
    });

    it('brings typed errors back as the same class, with details', async () => {
      const error = await bus.request(fail, { kind: 'not-found' }).catch((e) => e);
      expect(error).toBeInstanceOf(NotFoundError);
      expect(error.details).toEqual({ id: 42 });
    });

    it('turns an unexpected crash into INTERNAL without leaking its message', async () => {
      const error = await bus.request(fail, { kind: 'crash' }).catch((e) => e);
      expect(error.code).toBe('INTERNAL');
      expect(error.message).not.toContain('hunter2');
    });

    it('refuses a reply that breaks its contract', async () => {
      await expect(bus.request(fail, { kind: 'bad-reply' })).rejects.toMatchObject({ code: 'INTERNAL' });
    });

    it('times out with a typed error', async () => {
      await expect(bus.request(slow, { ms: 1_000 })).rejects.toThrow(TimeoutError);
    });

    it('fails a request that nobody serves instead of hanging', async () => {
      const started = Date.now();
      const error = await bus.request(nobody, {}).catch((e) => e);
      expect(error).toBeInstanceOf(UnavailableError);
      expect(Date.now() - started).toBeLessThan(300);
    });

    it('delivers events to their handler', async () => {
      await bus.emit(noted, { note: `hello-${name}` });
      const deadline = Date.now() + 3_000;
      while (!received.includes(`hello-${name}`) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(received).toContain(`hello-${name}`);
    });

    it('carries a bidirectional byte stream in order, in chunks under the payload limit', async () => {
      const id = newStreamId();
      const transport = bus.streams();
      const seenByServer: Array<[FrameType, string]> = [];
      const server = new StreamEnd(transport, id, 'server', (type, payload) => {
        seenByServer.push([type, payload.toString()]);
        if (type === Frame.StdinEnd) {
          server.send(Frame.Stdout, Buffer.alloc(200 * 1024, 'x'));
          server.sendJson(Frame.Exit, { exitCode: 3 });
        }
      });
      let stdout = 0;
      const exit = new Promise<unknown>((resolve) => {
        const client = new StreamEnd(transport, id, 'client', (type, payload) => {
          if (type === Frame.Stdout) stdout += payload.length;
          if (type === Frame.Exit) {
            client.close();
            resolve(JSON.parse(payload.toString()));
          }
        });
        client.send(Frame.Stdin, 'echo hi\n');
        client.sendJson(Frame.Resize, { rows: 40, cols: 120 });
        client.send(Frame.StdinEnd);
      });
      await expect(exit).resolves.toEqual({ exitCode: 3 });
      server.close();
      expect(stdout).toBe(200 * 1024);
      expect(seenByServer).toEqual([
        [Frame.Stdin, 'echo hi\n'],
        [Frame.Resize, '{"rows":40,"cols":120}'],
        [Frame.StdinEnd, ''],
      ]);
    });

    it('handles many concurrent requests without mixing replies', async () => {
      const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => bus.request(add, { a: i, b: i })));
      expect(replies.map((r) => r.sum)).toEqual(Array.from({ length: 200 }, (_, i) => 2 * i));
    });
  });
}

