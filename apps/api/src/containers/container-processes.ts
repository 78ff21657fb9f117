import { Injectable } from '@nestjs/common';
import { BusClient } from '@muelle/bus';
import { agentContracts, UnavailableError } from '@muelle/contracts';
import type { RequestPrincipal } from '../auth/principal';
import { ContainersService } from './containers.service';

/** `docker top` / `muelle top`: the processes of a running container, as its agent reads them from /proc. */
@Injectable()
export class ContainerProcesses {
  constructor(
    private readonly bus: BusClient,
    private readonly containers: ContainersService,
  ) {}

  /** Reading a container's processes is `read` on it (decide() through ContainersService.get), like its stats. */
  async top(principal: RequestPrincipal, ref: string): Promise<{ titles: string[]; processes: string[][] }> {
    const record = await this.containers.get(principal, ref);
    if (!record.hostId) throw new UnavailableError(`container ${record.name} is not placed on any host`);
    return this.bus.request(agentContracts(record.hostId).top, { id: record.id });
  }
}
