import type { OnModuleDestroy } from '@nestjs/common';
import type { NetworkNameEntry } from '@muelle/contracts';
import type { Logger } from 'pino';
import { NetworkDnsServer, type Upstream } from './dns-server';

export interface NetworkResolversOptions {
  /** Metadata's record of a network's names (networkNames over the bus). */
  names: (networkId: string) => Promise<NetworkNameEntry[]>;
  upstreams: readonly Upstream[];
  logger: Logger;
  /** 53 unless a test says otherwise. */
  port?: number;
}

/**
 * The resolvers of this host's user networks: one per network, on its gateway address, started
 * when the network's bridge is made here (user-networks.ts) and kept while the agent runs. The
 * names come from metadata, so a network's containers on other hosts resolve as well.
 */
export class NetworkResolvers implements OnModuleDestroy {
  private readonly servers = new Map<string, { gateway: string; server: Promise<NetworkDnsServer> }>();

  constructor(private readonly options: NetworkResolversOptions) {}

  /** Starts the network's resolver on `gateway` unless it runs already (closing a removed network's on that address). */
  async serve(networkId: string, gateway: string): Promise<NetworkDnsServer> {
    const running = this.servers.get(networkId);
    if (running) return running.server;
    // A removed network's resolver holds the address a later network of the same subnet gets.
    for (const [id, other] of this.servers) {
      if (other.gateway !== gateway) continue;
      this.servers.delete(id);
      await other.server.then((s) => s.close(), () => undefined); // never started: nothing to close
    }
    if (this.servers.has(networkId)) return this.servers.get(networkId)!.server;
    const made = new NetworkDnsServer({
      address: gateway,
      port: this.options.port ?? 53,
      names: () => this.options.names(networkId),
      otherNames: (ids) => this.namesOf(ids.filter((id) => id !== networkId)),
      upstreams: this.options.upstreams,
      logger: this.options.logger,
    });
    const server = made.start().then(() => made);
    this.servers.set(networkId, { gateway, server });
    // A failed start is tried again with the network's next container.
    server.catch(() => this.servers.get(networkId)?.server === server && this.servers.delete(networkId));
    return server;
  }

  /** Names of these networks, from their resolvers here (each caches its list), else from metadata. */
  private async namesOf(networkIds: readonly string[]): Promise<NetworkNameEntry[]> {
    const lists = await Promise.all(
      networkIds.map(async (id) => {
        const running = this.servers.get(id);
        const server = running ? await running.server.catch(() => undefined) : undefined; // not serving here: metadata answers
        return server ? server.names() : this.options.names(id);
      }),
    );
    return lists.flat();
  }

  /** Stops a removed network's resolver (none running: nothing to do). */
  async stop(networkId: string): Promise<void> {
    const running = this.servers.get(networkId);
    if (!running) return;
    this.servers.delete(networkId);
    await running.server.then((s) => s.close(), () => undefined); // never started: nothing to close
  }

  onModuleDestroy(): Promise<void> {
    return this.close();
  }

  async close(): Promise<void> {
    const servers = [...this.servers.values()].map((s) => s.server);
    this.servers.clear();
    // Those that never started have nothing to close.
    await Promise.all(servers.map((s) => s.then((server) => server.close(), () => undefined)));
  }
}
