import { Controller, INestMicroservice, Module, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { BusClient, createBusClientProxy, createBusServer, HandleRequest, NatsBus } from '@muelle/bus';
import { agentContracts, ContainerRuntimeInfo, hostHeartbeat, ParsedRequestOf, registerHost } from '@muelle/contracts';

export interface SimulatedHost {
  id: string;
  cpus: number;
  memoryBytes: number;
  labels?: Record<string, string>;
}

export interface SimulatedHosts {
  /** Every container create a simulated host answered: which host, which container. */
  creates: Array<{ hostId: string; id: string; memoryBytes: number; labels: Record<string, string> }>;
  stop(): Promise<void>;
}

/**
 * Hosts for placement tests: they register with metadata and heartbeat over the platform's real
 * bus like agents, and answer `containers.create` with a record of what they were asked, without
 * making containers (nothing else is answered: a start or a removal would time out). The api,
 * metadata and the bus are the real ones; only the kernel work is left out.
 */
export async function startSimulatedHosts(busEnv: Record<string, string>, hosts: SimulatedHost[]): Promise<SimulatedHosts> {
  const transport: NatsBus = { kind: 'nats', url: busEnv.NATS_URL, auth: { kind: 'user', user: busEnv.NATS_USER, password: busEnv.NATS_PASSWORD } };
  const creates: SimulatedHosts['creates'] = [];
  const controllers: Type[] = hosts.map((host) => {
    const c = agentContracts(host.id);
    @Controller()
    class SimulatedAgent {
      @HandleRequest(c.create)
      create(request: ParsedRequestOf<typeof c.create>): ContainerRuntimeInfo {
        creates.push({ hostId: host.id, id: request.id, memoryBytes: request.spec.resources.memoryBytes ?? 0, labels: request.spec.labels });
        const now = new Date().toISOString();
        return {
          id: request.id,
          name: request.name,
          hostId: host.id,
          image: request.spec.image,
          imageDigest: `sha256:${'0'.repeat(64)}`,
          spec: request.spec,
          state: 'created',
          pid: null,
          exitCode: null,
          oomKilled: false,
          error: '',
          restartCount: 0,
          stoppedByUser: false,
          ipAddress: null,
          gateway: null,
          macAddress: null,
          ports: [],
          createdAt: now,
          startedAt: null,
          finishedAt: null,
          logPath: '/nonexistent',
          rootfsPath: '/nonexistent',
        };
      }
    }
    return SimulatedAgent;
  });
  @Module({ controllers })
  class SimulatedHostsModule {}
  const server: INestMicroservice = await NestFactory.createMicroservice(SimulatedHostsModule, { strategy: createBusServer(transport, 'agent'), logger: false });
  await server.listen();
  const client = new BusClient(createBusClientProxy(transport, 'simulated-hosts'));
  const capacityOf = (host: SimulatedHost) => ({ cpus: host.cpus, memoryBytes: host.memoryBytes, diskBytes: 100 * 2 ** 30, diskFreeBytes: 50 * 2 ** 30 });
  try {
    await client.connect();
    for (const host of hosts) {
      await client.request(registerHost, { id: host.id, address: '127.0.0.1', capacity: capacityOf(host), labels: host.labels ?? {}, agentVersion: 'simulated' });
    }
  } catch (error) {
    await client.close();
    await server.close();
    throw error;
  }
  const heartbeat = setInterval(() => {
    // A lost heartbeat is what a real agent can have too: the next one follows in a second.
    for (const host of hosts) client.emit(hostHeartbeat, { id: host.id, at: new Date().toISOString(), capacity: capacityOf(host) }).catch(() => undefined);
  }, 1_000);
  return {
    creates,
    async stop() {
      clearInterval(heartbeat);
      await client.close();
      await server.close();
    },
  };
}
