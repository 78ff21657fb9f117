import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { connect, createServer, type Server, type Socket } from 'node:net';
import * as dnsPacket from 'dns-packet';
import type { NetworkNameEntry } from '@muelle/contracts';
import type { Logger } from 'pino';
import { decide } from './dns-answers';
import { canonicalName } from './dns-answers';

/** A resolver the names we do not know go to. */
export interface Upstream {
  host: string;
  port: number;
}

export interface NetworkDnsServerOptions {
  /** The network's gateway on this host (127.0.0.1 in tests). */
  address: string;
  /** 53; 0 picks a free port (tests). */
  port: number;
  /** The network's names from metadata's record. */
  names: () => Promise<NetworkNameEntry[]>;
  upstreams: readonly Upstream[];
  logger: Logger;
  /** How long a names list is reused: a burst of lookups costs one metadata request. */
  cacheMs?: number;
  /** Per upstream try. */
  forwardTimeoutMs?: number;
}

const RCODE = { SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 } as const;
/** Short, so a replica that stops or turns unhealthy leaves clients' caches soon. */
const TTL_SECONDS = 5;
const MAX_TCP_MESSAGE = 65_535;
const TCP_IDLE_MS = 10_000;

/**
 * One network's embedded resolver on one host: UDP and TCP on the network's gateway address.
 * Answers the network's names (dns-answers.ts) and forwards every other question, byte for byte,
 * to the host's resolvers. Containers' /etc/resolv.conf names the gateway.
 */
export class NetworkDnsServer {
  private udp?: UdpSocket;
  private tcp?: Server;
  private turn = 0;
  private cached?: { at: number; entries: Promise<NetworkNameEntry[]> };
  private readonly connections = new Set<Socket>();

  constructor(private readonly options: NetworkDnsServerOptions) {}

  /** The bound UDP port (the TCP one is the same). */
  get port(): number {
    const address = this.udp?.address();
    if (!address) throw new Error('resolver not started');
    return address.port;
  }

  async start(): Promise<void> {
    const udp = createSocket({ type: 'udp4', reuseAddr: false });
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(this.options.port, this.options.address, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    udp.on('error', (error) => this.options.logger.warn({ err: error, address: this.options.address }, 'resolver socket error'));
    udp.on('message', (message, remote) => void this.onDatagram(udp, message, remote));
    this.udp = udp;
    const tcp = createServer((socket) => this.onConnection(socket));
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(udp.address().port, this.options.address, () => {
          tcp.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      udp.close();
      this.udp = undefined;
      throw error;
    }
    this.tcp = tcp;
  }

  async close(): Promise<void> {
    for (const socket of this.connections) socket.destroy();
    await Promise.all([
      new Promise<void>((r) => (this.udp ? this.udp.close(() => r()) : r())),
      new Promise<void>((r) => (this.tcp ? this.tcp.close(() => r()) : r())),
    ]);
    this.udp = undefined;
    this.tcp = undefined;
  }

  /** The reply to one query message, or undefined when it is not worth one (not a query). */
  async reply(message: Buffer, asker: string, transport: 'udp' | 'tcp'): Promise<Buffer | undefined> {
    let query: dnsPacket.Packet;
    try {
      query = dnsPacket.decode(message);
    } catch {
      return undefined; // not DNS: a reply would only help an amplifier
    }
    if (query.type !== 'query') return undefined;
    const question = query.questions?.[0];
    if (!question || query.questions!.length !== 1) return this.respond(query, RCODE.REFUSED);
    let entries: NetworkNameEntry[];
    try {
      entries = await this.entries();
    } catch (error) {
      this.options.logger.warn({ err: error }, 'network names unavailable: answering SERVFAIL');
      return this.respond(query, RCODE.SERVFAIL);
    }
    const decision = decide({ name: question.name, type: question.type }, entries, asker, this.turn);
    // Only answers with addresses take a turn: a client asks A and AAAA for each lookup, and two
    // turns a lookup would hand a two-replica service's clients the same replica every time.
    if (decision.kind === 'addresses') this.turn++;
    switch (decision.kind) {
      case 'refused':
        return this.respond(query, RCODE.REFUSED);
      case 'no-data':
        return this.respond(query, 0);
      case 'addresses':
        return this.respond(
          query,
          0,
          decision.addresses.map((data) => ({ type: 'A' as const, class: 'IN' as const, name: question.name, ttl: TTL_SECONDS, data })),
        );
      case 'forward':
        return this.forward(message, transport, query);
    }
  }

  private entries(): Promise<NetworkNameEntry[]> {
    const now = Date.now();
    if (!this.cached || now - this.cached.at > (this.options.cacheMs ?? 1_000)) {
      const entries = this.options.names();
      this.cached = { at: now, entries };
      // A failed lookup is not reused: the next question asks metadata again.
      entries.catch(() => (this.cached?.entries === entries ? (this.cached = undefined) : undefined));
    }
    return this.cached.entries;
  }

  private respond(query: dnsPacket.Packet, rcode: number, answers: dnsPacket.Answer[] = []): Buffer {
    const recursionDesired = (query.flags ?? 0) & dnsPacket.RECURSION_DESIRED;
    return dnsPacket.encode({
      type: 'response',
      id: query.id,
      flags: recursionDesired | dnsPacket.RECURSION_AVAILABLE | (answers.length ? dnsPacket.AUTHORITATIVE_ANSWER : 0) | rcode,
      questions: query.questions,
      answers,
    });
  }

  /** The question as asked, to each upstream in turn; SERVFAIL when none answers, REFUSED when there is none. */
  private async forward(message: Buffer, transport: 'udp' | 'tcp', query: dnsPacket.Packet): Promise<Buffer> {
    if (!this.options.upstreams.length) return this.respond(query, RCODE.REFUSED);
    for (const upstream of this.options.upstreams) {
      try {
        return transport === 'udp' ? await this.askUdp(upstream, message) : await this.askTcp(upstream, message);
      } catch (error) {
        this.options.logger.debug({ err: error, upstream, name: canonicalName(query.questions?.[0]?.name ?? '') }, 'upstream resolver did not answer');
      }
    }
    return this.respond(query, RCODE.SERVFAIL);
  }

  private askUdp(upstream: Upstream, message: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const socket = createSocket('udp4');
      const done = (error?: Error, answer?: Buffer) => {
        clearTimeout(timer);
        socket.close();
        if (error) reject(error);
        else resolve(answer!);
      };
      const timer = setTimeout(() => done(new Error('timed out')), this.options.forwardTimeoutMs ?? 2_000);
      socket.on('error', (error) => done(error));
      // Only the upstream's reply to this very question counts (same id, from where it was sent).
      socket.on('message', (answer, from) => {
        if (from.address === upstream.host && from.port === upstream.port && answer.length >= 2 && answer.readUInt16BE(0) === message.readUInt16BE(0)) done(undefined, answer);
      });
      socket.send(message, upstream.port, upstream.host);
    });
  }

  private askTcp(upstream: Upstream, message: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const socket = connect(upstream.port, upstream.host);
      let received = Buffer.alloc(0);
      socket.setTimeout(this.options.forwardTimeoutMs ?? 2_000, () => socket.destroy(new Error('timed out')));
      socket.on('error', reject);
      socket.on('close', () => reject(new Error('closed before an answer')));
      socket.on('connect', () => socket.write(Buffer.concat([lengthPrefix(message.length), message])));
      socket.on('data', (chunk) => {
        received = Buffer.concat([received, chunk]);
        if (received.length >= 2 && received.length >= 2 + received.readUInt16BE(0)) {
          resolve(received.subarray(2, 2 + received.readUInt16BE(0)));
          socket.end();
        }
      });
    });
  }

  private async onDatagram(udp: UdpSocket, message: Buffer, remote: RemoteInfo): Promise<void> {
    const answer = await this.reply(message, remote.address, 'udp').catch((error: unknown) => {
      this.options.logger.warn({ err: error }, 'resolver failed on a question');
      return undefined;
    });
    if (answer) udp.send(answer, remote.port, remote.address);
  }

  /** DNS over TCP: messages with a two-byte length, several per connection, answered in order. */
  private onConnection(socket: Socket): void {
    this.connections.add(socket);
    socket.on('close', () => this.connections.delete(socket));
    socket.setTimeout(TCP_IDLE_MS, () => socket.destroy());
    // A client that resets the connection: nothing is left to answer.
    socket.on('error', () => socket.destroy());
    let pending = Buffer.alloc(0);
    let chain = Promise.resolve();
    socket.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      if (pending.length > 2 + MAX_TCP_MESSAGE) return socket.destroy();
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        const message = pending.subarray(2, 2 + pending.readUInt16BE(0));
        pending = pending.subarray(2 + message.length);
        chain = chain.then(async () => {
          const answer = await this.reply(message, socket.remoteAddress ?? '', 'tcp');
          if (answer && !socket.destroyed) socket.write(Buffer.concat([lengthPrefix(answer.length), answer]));
        });
        chain = chain.catch((error: unknown) => {
          this.options.logger.warn({ err: error }, 'resolver failed on a question');
          socket.destroy();
        });
      }
    });
  }
}

function lengthPrefix(length: number): Buffer {
  const prefix = Buffer.alloc(2);
  prefix.writeUInt16BE(length);
  return prefix;
}

/** `MUELLE_DNS_UPSTREAM` (`1.2.3.4,5.6.7.8:5353`), else the host's own nameservers from /etc/resolv.conf. */
export function parseUpstreams(configured: string | undefined, hostResolvConf: string): Upstream[] {
  const fromConfig = configured
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const hosts = fromConfig ?? hostResolvConf.split('\n').flatMap((line) => /^\s*nameserver\s+(\d+\.\d+\.\d+\.\d+)\s*$/.exec(line)?.[1] ?? []);
  return hosts.map((entry) => {
    const [host, port] = entry.split(':');
    return { host: host!, port: port ? Number(port) : 53 };
  });
}
