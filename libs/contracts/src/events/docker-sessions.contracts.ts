import { z } from 'zod';
import { defineEvent } from '../contract';
import { IsoDate } from '../common';
import { ContainerId } from '../containers/container.schemas';

/**
 * Between api replicas (each hears every one, outside the queue group): the Docker API's
 * requests for one `docker run` may land on different replicas behind a load balancer. `started`
 * wakes an attach waiting on another replica; `resize` reaches the replica holding the terminal
 * session (a container id, or a Docker exec id). `origin` is the sending replica, which ignores
 * its own signal (it acted locally already).
 */
export const dockerSessionSignal = defineEvent(
  'muelle.api.docker.session.v1',
  z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('started'), origin: z.string().uuid(), containerId: ContainerId, startRequestedAt: IsoDate }),
    z.object({ kind: z.literal('resize'), origin: z.string().uuid(), key: z.string().min(1).max(200), rows: z.number().int().min(1).max(65_535), cols: z.number().int().min(1).max(65_535) }),
  ]),
);
