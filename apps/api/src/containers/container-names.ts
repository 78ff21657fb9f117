import { Injectable } from '@nestjs/common';
import { BusClient } from '@muelle/bus';
import { renameContainer } from '@muelle/contracts';
import { AuditLog } from '../audit/audit-log';
import type { RequestPrincipal } from '../auth/principal';
import { ContainersService } from './containers.service';

/** `docker rename` / `muelle rename`: only metadata knows a container's name (agents key by id). */
@Injectable()
export class ContainerNames {
  constructor(
    private readonly bus: BusClient,
    private readonly containers: ContainersService,
    private readonly audit: AuditLog,
  ) {}

  /** Needs `update` on the container (decide() through ContainersService.get); CONFLICT when the name is taken. */
  async rename(principal: RequestPrincipal, ref: string, name: string): Promise<{ id: string; name: string }> {
    const record = await this.containers.get(principal, ref, 'update');
    const renamed = await this.bus.request(renameContainer, { id: record.id, name });
    await this.audit.record(principal, 'container.rename', `container:${record.id}`, { from: record.name, to: name });
    this.containers.publish(renamed, 'rename', { oldName: `/${record.name}` });
    return { id: renamed.id, name: renamed.name };
  }
}
