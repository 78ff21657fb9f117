import { Controller, Get, Query, Req, Res, UseGuards, Inject } from '@nestjs/common';
import { BusClient, HandleEvent } from '@muelle/bus';
import { containerHealthChanged, ContainerHealthChange, containerStateChanged, ContainerStateChange, deleteContainerRecord, getContainer, InvalidArgumentError, NotFoundError, PlatformEventType } from '@muelle/contracts';
import type { Request, Response } from 'express';
import { z } from 'zod';
import { AuthGuard, CurrentPrincipal } from '../auth/auth.guard';
import { RequestPrincipal } from '../auth/principal';
import { httpErrorOf } from '@muelle/service-kit';
import { boundedWriter, SLOW_CLIENT_MESSAGE } from '../http/client-backlog';
import { parseRequest, queryList } from '../http/validation';
import { ContainerMoves } from '../containers/container-moves';
import { VolumesService } from '../volumes/volumes.service';
import { EventHub } from './event-hub';
import { LOGGER } from '@muelle/service-kit';
import type { Logger } from 'pino';
import { eventFiltersFromPairs, parseEventTime } from './event-filter';
import { EventFeed } from './event-feed';

export const EventsQuery = z.object({
  type: queryList.pipe(z.array(PlatformEventType).optional()),
  /** `key=value` pairs, Docker's filter names (type, event, container, image, label). */
  filter: queryList,
  since: z.string().max(64).optional(),
  until: z.string().max(64).optional(),
});

/** docker-like action names for the agent's state changes. */
const ACTION_OF_STATE: Record<string, string> = {
  created: 'create',
  running: 'start',
  exited: 'die',
  restarting: 'restart',
  paused: 'pause',
  lost: 'lost',
  removing: 'removing',
  dead: 'destroy',
};

/**
 * `GET /v1/events`: Server-Sent Events of container, image and host changes the caller may see;
 * with `since` the history from then first, with `until` the stream ends then.
 */
@Controller('v1/events')
@UseGuards(AuthGuard)
export class EventsController {
  constructor(private readonly feed: EventFeed) {}

  @Get()
  async stream(@CurrentPrincipal() principal: RequestPrincipal, @Query() query: unknown, @Req() req: Request, @Res() res: Response) {
    const parsed = parseRequest(EventsQuery, query, 'query');
    const filters = eventFiltersFromPairs([...(parsed.type ?? []).map((t) => `type=${t}`), ...(parsed.filter ?? [])], (what) => new InvalidArgumentError(`${what} is not supported`, { field: 'query.filter' }));
    const window = {
      since: parsed.since !== undefined ? parseEventTime(parsed.since, 'query.since') : undefined,
      until: parsed.until !== undefined ? parseEventTime(parsed.until, 'query.until') : undefined,
      filters,
    };
    let stop = () => undefined as void;
    let keepAlive: NodeJS.Timeout | undefined;
    const started = () => {
      res.status(200);
      res.setHeader('Content-Type', 'text/event-stream');
      res.setHeader('Cache-Control', 'no-cache');
      res.setHeader('Connection', 'keep-alive');
      res.flushHeaders();
      res.write(': connected\n\n');
      // Comments keep proxies from closing an idle stream.
      keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    };
    started();
    // A client past the backlog is told why and let go; the hub never waits for a reader.
    const write = boundedWriter<string>(
      res,
      (text) => res.write(text),
      () => {
        stop();
        res.end(`event: error\ndata: ${JSON.stringify({ code: 'UNAVAILABLE', message: SLOW_CLIENT_MESSAGE })}\n\n`);
      },
    );
    req.on('close', () => {
      clearInterval(keepAlive);
      stop();
    });
    try {
      stop = await this.feed.open(principal, window, {
        event: (event) => write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`),
        end: () => {
          clearInterval(keepAlive);
          if (!res.writableEnded) res.end();
        },
      });
    } catch (error) {
      // The stream has begun: the failure is its last event.
      clearInterval(keepAlive);
      const { code, message } = httpErrorOf(error);
      res.end(`event: error\ndata: ${JSON.stringify({ code, message })}\n\n`);
    }
    if (req.destroyed) stop();
  }
}

/** Turns agents' container state changes into events; a removed (`dead`) container's record goes too. */
@Controller()
export class ContainerEventsListener {
  private readonly teams = new Map<string, { teamId: string | null; name: string; image: string; labels: Record<string, string> }>();

  constructor(
    private readonly bus: BusClient,
    private readonly hub: EventHub,
    private readonly moves: ContainerMoves,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly volumes: VolumesService,
  ) {}

  @HandleEvent(containerStateChanged)
  async onStateChanged(change: ContainerStateChange) {
    const known = await this.lookup(change.id);
    if (change.state === 'dead' && !this.moves.isMoving(change.id)) {
      // autoRemove (`--rm`) containers are removed by their agent: forget their record as well,
      // unless the event comes from a host the container has already left.
      const current = await this.bus.request(getContainer, { ref: change.id }).catch(() => null);
      if (current && current.hostId === change.hostId) {
        await this.bus.request(deleteContainerRecord, { id: change.id }).catch((error) => this.logger.warn({ err: error, container: change.id }, 'record of an auto-removed container not deleted'));
        // `--rm` (the agent removed it): its anonymous volumes go too. A plain `rm` ends here as well, racing the api's own removal: that one keeps them.
        if (current.spec.autoRemove) await this.volumes.removeAnonymousOf(null, current).catch((error) => this.logger.warn({ err: error, container: change.id }, 'anonymous volumes of an auto-removed container not removed'));
      }
      this.teams.delete(change.id);
    }
    if (!known) return;
    const event = {
      type: 'container' as const,
      id: change.id,
      teamId: known.teamId,
      at: change.at,
      attributes: {
        name: known.name,
        image: known.image,
        hostId: change.hostId,
        state: change.state,
        exitCode: change.exitCode ?? null,
      },
      labels: known.labels,
    };
    if (change.state === 'dead') this.hub.publishDestroyOnce(event);
    else this.hub.publish({ ...event, action: ACTION_OF_STATE[change.state] ?? change.state });
  }

  /** Docker's spelling: `health_status: healthy`. */
  @HandleEvent(containerHealthChanged)
  async onHealthChanged(change: ContainerHealthChange) {
    const known = await this.lookup(change.id);
    if (!known) return;
    this.hub.publish({
      type: 'container',
      action: `health_status: ${change.status}`,
      id: change.id,
      teamId: known.teamId,
      at: change.at,
      attributes: { name: known.name, image: known.image, hostId: change.hostId, health: change.status, failingStreak: change.failingStreak },
      labels: known.labels,
    });
  }

  private async lookup(id: string) {
    const cached = this.teams.get(id);
    if (cached) return cached;
    try {
      const record = await this.bus.request(getContainer, { ref: id });
      const entry = {
        teamId: record.teamId,
        name: record.name,
        image: record.image,
        labels: record.spec.labels,
      };
      if (this.teams.size > 10_000) this.teams.clear();
      this.teams.set(id, entry);
      return entry;
    } catch (error) {
      // Removed meanwhile: an event about it goes to no team.
      if (!(error instanceof NotFoundError)) this.logger.warn({ err: error, container: id }, 'container unknown to events: metadata did not answer');
      return null;
    }
  }
}
