import type { BusClient } from '@muelle/bus';
import {
  agentContracts,
  ConflictError,
  connectContainerNetwork,
  ContainerRecord,
  ContainerSpec,
  containerNetworksChanged,
  disconnectContainerNetwork,
  getNetwork,
  InvalidArgumentError,
  NetworkRecord,
  NotFoundError,
  UnavailableError,
} from '@muelle/contracts';
import pino from 'pino';
import type { AuditLog } from '../audit/audit-log';
import type { RequestPrincipal } from '../auth/principal';
import type { ContainersService } from '../containers/containers.service';
import { NetworkConnections } from './network-connections';
import { NetworksService } from './networks.service';

const TEAM_A = '6a1f0d7e-0000-4000-8000-00000000000a';
const TEAM_B = '6a1f0d7e-0000-4000-8000-00000000000b';
const HOST = 'host-1';
const principal = { user: { id: '6a1f0d7e-0000-4000-8000-000000000001', username: 'ann', role: 'member' }, teamId: TEAM_A, teamName: 'alpha', kind: 'user' } as RequestPrincipal;
const network = (teamId: string, name = 'back'): NetworkRecord => ({ id: 'b'.repeat(64), name, teamId, driver: 'overlay', subnet: '10.90.1.0/24', gateway: '10.90.1.1', internal: false, labels: {}, createdAt: '2026-12-04T12:00:00.000Z', vni: 4097 });
const front = { id: 'f'.repeat(64), name: 'front', address: '10.90.0.2' };
const container = (spec: Partial<ContainerSpec> = {}): ContainerRecord =>
  ({ id: 'c'.repeat(64), name: 'app', hostId: HOST, teamId: TEAM_A, spec: ContainerSpec.parse({ image: 'r/app', networks: [front], ...spec }), state: 'running' }) as ContainerRecord;
const agent = agentContracts(HOST);

/** The steps of a connect/disconnect and their order: rules from decide() and metadata, the host after the record (the bus is a recording fake). */
describe('NetworkConnections', () => {
  let calls: string[];
  let answers: Map<string, (payload: unknown) => unknown>;
  let record: ContainerRecord;
  const bus = {
    request: async (contract: { subject: string }, payload: unknown) => {
      calls.push(contract.subject);
      const answer = answers.get(contract.subject);
      if (!answer) throw new Error(`unexpected request ${contract.subject}`);
      return answer(payload);
    },
    emit: async (contract: { subject: string }) => void calls.push(contract.subject),
  } as unknown as BusClient;
  const audit = { record: async () => undefined } as unknown as AuditLog;
  const containers = {
    get: async () => record,
    agent: () => agent,
    placedHost: (r: ContainerRecord) => {
      if (!r.hostId) throw new UnavailableError('not placed');
      return r.hostId;
    },
  } as unknown as ContainersService;
  const connections = new NetworkConnections(bus, containers, new NetworksService(bus, audit), audit, pino({ level: 'silent' }));
  const recorded = { ...network(TEAM_A), address: '10.90.1.3', aliases: ['web'] };

  beforeEach(() => {
    calls = [];
    record = container();
    answers = new Map<string, (payload: unknown) => unknown>([
      [getNetwork.subject, () => network(TEAM_A)],
      [connectContainerNetwork.subject, () => ({ ...record, spec: { ...record.spec, networks: [front, recorded] } })],
      [disconnectContainerNetwork.subject, () => record],
      [agent.connectNetwork.subject, () => ({})],
      [agent.disconnectNetwork.subject, () => ({})],
    ]);
  });

  it('records the network (metadata gives the address), then has the host wire it, then tells the hosts', async () => {
    const done = await connections.connect(principal, 'back', { container: 'app', aliases: ['web'] });
    expect(done.network.address).toBe('10.90.1.3');
    expect(calls).toEqual([getNetwork.subject, connectContainerNetwork.subject, agent.connectNetwork.subject, containerNetworksChanged.subject]);
  });

  it('puts the record back when the host cannot wire it, and reports the host error', async () => {
    answers.set(agent.connectNetwork.subject, () => {
      throw new InvalidArgumentError('ip link add failed');
    });
    await expect(connections.connect(principal, 'back', { container: 'app', aliases: [] })).rejects.toThrow('ip link add failed');
    expect(calls).toEqual([getNetwork.subject, connectContainerNetwork.subject, agent.connectNetwork.subject, disconnectContainerNetwork.subject]);
  });

  it("refuses another team's network as missing, a predefined mode by name, and a host-network container, before any record changes", async () => {
    answers.set(getNetwork.subject, () => network(TEAM_B));
    await expect(connections.connect(principal, 'back', { container: 'app', aliases: [] })).rejects.toThrow(NotFoundError);
    await expect(connections.connect(principal, 'bridge', { container: 'app', aliases: [] })).rejects.toThrow(/network bridge is a network mode chosen when the container is created/);
    answers.set(getNetwork.subject, () => network(TEAM_A));
    record = container({ network: 'host', networks: [] });
    await expect(connections.connect(principal, 'back', { container: 'app', aliases: [] })).rejects.toThrow(InvalidArgumentError);
    expect(calls.filter((s) => s !== getNetwork.subject)).toEqual([]);
  });

  it('disconnects in the record, then on the host; with force a network the record no longer lists is still dropped on the host', async () => {
    await connections.disconnect(principal, 'back', { container: 'app', force: false });
    expect(calls).toEqual([getNetwork.subject, disconnectContainerNetwork.subject, agent.disconnectNetwork.subject, containerNetworksChanged.subject]);
    answers.set(disconnectContainerNetwork.subject, () => {
      throw new ConflictError('container app is not connected to network back');
    });
    calls = [];
    await expect(connections.disconnect(principal, 'back', { container: 'app', force: false })).rejects.toThrow(ConflictError);
    expect(calls).toEqual([getNetwork.subject, disconnectContainerNetwork.subject]);
    calls = [];
    await connections.disconnect(principal, 'back', { container: 'app', force: true });
    expect(calls).toEqual([getNetwork.subject, disconnectContainerNetwork.subject, agent.disconnectNetwork.subject, containerNetworksChanged.subject]);
  });
});
