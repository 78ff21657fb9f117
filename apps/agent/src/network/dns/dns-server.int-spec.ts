import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import * as dnsPacket from 'dns-packet';
import type { NetworkNameEntry } from '@muelle/contracts';
import pino from 'pino';
import { NetworkDnsServer, parseUpstreams } from './dns-server';
import { NetworkResolvers } from './network-resolvers';

/** A real resolver on 127.0.0.1 (random port), and a fake upstream on 127.0.0.1 for forwarded names. */
const logger = pino({ level: 'silent' });
const entries: NetworkNameEntry[] = [
  { containerId: 'a'.repeat(64), name: 'web', aliases: ['www'], address: '127.0.0.1', service: null, running: true, health: null },
  { containerId: 'b'.repeat(64), name: 'api-1', aliases: [], address: '10.7.0.3', service: 'api', running: true, health: 'healthy' },
  { containerId: 'c'.repeat(64), name: 'api-2', aliases: [], address: '10.7.0.4', service: 'api', running: true, health: 'healthy' },
];

function query(name: string, type: 'A' | 'AAAA' = 'A', id = 4242): Buffer {
  return dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, class: 'IN', name }] });
}

/** What dns-packet decodes (its types leave out `rcode`). */
type Reply = Omit<dnsPacket.DecodedPacket, 'answers'> & { rcode: string; answers: Array<{ type: string; name: string; data: string }> };

function askUdp(port: number, message: Buffer): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error('no answer within 2 s'));
    }, 2_000);
    socket.on('message', (answer) => {
      clearTimeout(timer);
      socket.close();
      resolve(dnsPacket.decode(answer) as Reply);
    });
    socket.send(message, port, '127.0.0.1');
  });
}

function askTcp(port: number, message: Buffer): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    socket.setTimeout(2_000, () => socket.destroy(new Error('no answer within 2 s')));
    socket.on('error', reject);
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= 2 && received.length >= 2 + received.readUInt16BE(0)) {
        socket.end();
        resolve(dnsPacket.decode(received.subarray(2, 2 + received.readUInt16BE(0))) as Reply);
      }
    });
    const prefix = Buffer.alloc(2);
    prefix.writeUInt16BE(message.length);
    socket.write(Buffer.concat([prefix, message]));
  });
}

describe('a network resolver on a real socket', () => {
  let upstreamAsked: string[] = [];
  const upstream = createSocket('udp4');
  let server: NetworkDnsServer;
  let names = jest.fn(async () => entries);

  beforeAll(async () => {
    // The fake upstream knows one name; everything else is NXDOMAIN.
    upstream.on('message', (message, remote) => {
      const q = dnsPacket.decode(message);
      const name = q.questions![0]!.name;
      upstreamAsked.push(name);
      const known = name === 'outside.test';
      const reply = dnsPacket.encode({
        type: 'response',
        id: q.id,
        flags: dnsPacket.RECURSION_AVAILABLE | (known ? 0 : 3),
        questions: q.questions,
        answers: known ? [{ type: 'A', class: 'IN', name, ttl: 60, data: '192.0.2.7' }] : [],
      });
      upstream.send(reply, remote.port, remote.address);
    });
    await new Promise<void>((r) => upstream.bind(0, '127.0.0.1', () => r()));
    server = new NetworkDnsServer({ address: '127.0.0.1', port: 0, names: () => names(), upstreams: [{ host: '127.0.0.1', port: upstream.address().port }], logger, cacheMs: 0 });
    await server.start();
  });

  afterAll(async () => {
    await server.close();
    upstream.close();
  });

  beforeEach(() => {
    upstreamAsked = [];
    names = jest.fn(async () => entries);
  });

  it('answers a container name and an alias over UDP and TCP, with the question’s id', async () => {
    const udp = await askUdp(server.port, query('web', 'A', 7));
    expect(udp).toMatchObject({ id: 7, rcode: 'NOERROR', answers: [{ type: 'A', name: 'web', data: '127.0.0.1' }] });
    const tcp = await askTcp(server.port, query('WWW.'));
    expect(tcp.answers).toEqual([expect.objectContaining({ type: 'A', data: '127.0.0.1' })]);
    expect(upstreamAsked).toEqual([]);
  });

  it('answers a service with one replica, the next each time; the AAAA question of each lookup takes no turn', async () => {
    const answers: string[][] = [];
    for (let i = 0; i < 4; i++) {
      answers.push((await askUdp(server.port, query('api'))).answers.map((a) => a.data as string));
      expect((await askUdp(server.port, query('api', 'AAAA'))).answers).toEqual([]);
    }
    expect(answers.every((a) => a.length === 1)).toBe(true);
    expect(new Set(answers.flat())).toEqual(new Set(['10.7.0.3', '10.7.0.4']));
    expect(answers[2]).toEqual(answers[0]);
    expect(answers[1]).not.toEqual(answers[0]);
  });

  it('forwards other names to the upstream, over UDP and TCP (the upstream’s answer comes back as it was)', async () => {
    expect(await askUdp(server.port, query('outside.test'))).toMatchObject({ rcode: 'NOERROR', answers: [{ data: '192.0.2.7' }] });
    expect(await askUdp(server.port, query('other-teams-web'))).toMatchObject({ rcode: 'NXDOMAIN', answers: [] });
    expect(upstreamAsked).toEqual(['outside.test', 'other-teams-web']);
  });

  it('says SERVFAIL when metadata cannot be asked, and REFUSED to a client that is not on the network', async () => {
    names = jest.fn(async () => {
      throw new Error('metadata unavailable');
    });
    expect((await askUdp(server.port, query('web'))).rcode).toBe('SERVFAIL');
    names = jest.fn(async () => entries.slice(1));
    expect((await askUdp(server.port, query('api'))).rcode).toBe('REFUSED');
  });

  it('takes upstreams from MUELLE_DNS_UPSTREAM, else from the host’s resolv.conf', () => {
    expect(parseUpstreams('127.0.0.1:5353, 127.0.0.2', 'nameserver 10.0.0.1')).toEqual([
      { host: '127.0.0.1', port: 5353 },
      { host: '127.0.0.2', port: 53 },
    ]);
    expect(parseUpstreams(undefined, 'search x\nnameserver 10.0.0.1\nnameserver ::1\n')).toEqual([{ host: '10.0.0.1', port: 53 }]);
    expect(parseUpstreams('', 'nameserver 10.0.0.1')).toEqual([]);
  });
});

describe("a host's network resolvers", () => {
  it("hand a removed network's gateway address to the later network that got its subnet", async () => {
    const probe = createSocket('udp4');
    await new Promise<void>((r) => probe.bind(0, '127.0.0.1', () => r()));
    const port = probe.address().port;
    probe.close();
    const names = jest.fn(async (networkId: string) => [{ ...entries[0]!, name: `on-${networkId.slice(0, 1)}` }]);
    const resolvers = new NetworkResolvers({ names, upstreams: [], logger, port });
    try {
      await resolvers.serve('a'.repeat(64), '127.0.0.1');
      expect((await askUdp(port, query('on-a'))).answers.map((a) => a.data)).toEqual(['127.0.0.1']);
      await resolvers.serve('b'.repeat(64), '127.0.0.1');
      expect((await askUdp(port, query('on-b'))).answers.map((a) => a.data)).toEqual(['127.0.0.1']);
      expect((await askUdp(port, query('on-a'))).rcode).toBe('REFUSED');
    } finally {
      await resolvers.close();
    }
  });
});
