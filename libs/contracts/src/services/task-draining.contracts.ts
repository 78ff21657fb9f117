import { z } from 'zod';
import { defineEvent, defineRequest } from '../contract';
import { IsoDate } from '../common';
import { ContainerId } from '../containers/container.schemas';

/**
 * Tasks about to be removed (a rolling update, a scale-down, a replaced task) leave every host's
 * routing mesh before they are killed, so no new connection reaches a dying task. Metadata marks
 * them draining (the mesh record, `muelle.metadata.services.mesh.v1`, leaves them out; a mark older
 * than a minute is void, as the removal it announced did not happen), then announces tasksDraining.
 */
export const drainTasks = defineRequest(
  'muelle.metadata.tasks.drain.v1',
  z.object({ serviceId: z.string().uuid(), ids: z.array(ContainerId).min(1).max(1000) }),
  /** The ids marked: the service's running tasks among those asked. */
  z.object({ draining: z.array(ContainerId) }),
);

/** Published by metadata once the tasks are marked: every agent's routing mesh rebuilds without them. */
export const tasksDraining = defineEvent('muelle.metadata.tasks.draining.v1', z.object({ serviceId: z.string().uuid(), ids: z.array(ContainerId).max(1000), at: IsoDate }));
