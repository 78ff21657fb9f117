import { Injectable } from '@nestjs/common';
import { BusClient } from '@muelle/bus';
import { createNetwork, deleteNetwork, getNetwork, InvalidArgumentError, listNetworks, NetworkEndpoint, NetworkRecord, networkRemoved, NotFoundError } from '@muelle/contracts';
import type { Action } from '@muelle/authz';
import { AuditLog } from '../audit/audit-log';
import { authorize, RequestPrincipal, teamScope } from '../auth/principal';
import { CreateNetworkBody } from './networks.schemas';

/**
 * Teams' networks, for `/v1/networks` and the Docker API's `/networks` alike. A network belongs to
 * the caller's team; decide() answers every action on it (kind `network`), so another team's
 * network is a 404.
 */
@Injectable()
export class NetworksService {
  constructor(
    private readonly bus: BusClient,
    private readonly audit: AuditLog,
  ) {}

  async create(principal: RequestPrincipal, body: CreateNetworkBody): Promise<NetworkRecord> {
    authorize(principal, 'create', { kind: 'network', teamId: principal.teamId }, { notFound: 'no such team' });
    const record = await this.bus.request(createNetwork, { ...body, teamId: principal.teamId });
    await this.audit.record(principal, 'network.create', `network:${record.id}`, { name: record.name, driver: record.driver, subnet: record.subnet });
    return record;
  }

  async list(principal: RequestPrincipal): Promise<NetworkRecord[]> {
    return (await this.bus.request(listNetworks, { teamId: teamScope(principal) })).items;
  }

  async get(principal: RequestPrincipal, ref: string, action: Action = 'read'): Promise<NetworkRecord> {
    const network = await this.bus.request(getNetwork, { ref, teamId: teamScope(principal) });
    authorize(principal, action, { kind: 'network', teamId: network.teamId }, { notFound: `no such network: ${ref}` });
    return network;
  }

  /**
   * The networks a new container of the caller's team joins, by name or id: each must be the
   * team's (decide(): `update` on the network) and needs network mode bridge. Metadata fills in
   * the subnet and the container's address when it records the container.
   */
  async endpointsFor(principal: RequestPrincipal, asked: ReadonlyArray<string | { network: string; aliases: string[] }>, mode: 'bridge' | 'host' | 'none'): Promise<NetworkEndpoint[]> {
    const refs = asked.map((a) => (typeof a === 'string' ? { network: a, aliases: [] } : a));
    if (refs.length && mode !== 'bridge') throw new InvalidArgumentError(`network mode ${mode} cannot be combined with the network ${refs[0]!.network}`);
    const endpoints: NetworkEndpoint[] = [];
    for (const { network: ref, aliases } of refs) {
      const network = await this.get(principal, ref, 'update');
      if (network.teamId !== principal.teamId) throw new NotFoundError(`no such network: ${ref}`);
      endpoints.push({ id: network.id, name: network.name, ...(aliases.length ? { aliases } : {}) });
    }
    return endpoints;
  }

  async remove(principal: RequestPrincipal, ref: string): Promise<NetworkRecord> {
    const network = await this.get(principal, ref, 'delete');
    await this.bus.request(deleteNetwork, { id: network.id });
    await this.bus.emit(networkRemoved, { id: network.id }).catch(() => undefined); // lost: the hosts clean up on their next periodic overlay pass
    await this.audit.record(principal, 'network.remove', `network:${network.id}`, { name: network.name });
    return network;
  }
}
