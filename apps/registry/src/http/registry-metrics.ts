import { Injectable } from '@nestjs/common';
import { repositoryTeam } from '@muelle/authz';
import { ServiceMetrics } from '@muelle/service-kit';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter } from 'prom-client';
import type { Route } from './routes';

/** Distinct team labels kept; past it a new team is counted as `other`, so a scrape stays bounded. */
const MAX_TEAMS = 200;

/**
 * Registry traffic by the team that owns the repository (`<team>/…`): image pushes (manifest PUTs)
 * and pulls (manifest GETs), bytes in and out (as counted on the socket during the request), and
 * errors by OCI code. A request refused before it was authorized is counted under `none`, so a
 * stranger cannot mint labels; repository names never become labels.
 */
@Injectable()
export class RegistryMetrics {
  private readonly teams = new Set<string>();
  private readonly pushes: Counter<'team'>;
  private readonly pulls: Counter<'team'>;
  private readonly bytes: Counter<'team' | 'direction'>;
  private readonly errors: Counter<'team' | 'code'>;

  constructor(metrics: ServiceMetrics) {
    const registers = [metrics.registry];
    this.pushes = new Counter({ name: 'muelle_registry_pushes_total', help: 'Manifests pushed (images and indexes), by repository team', labelNames: ['team'], registers });
    this.pulls = new Counter({ name: 'muelle_registry_pulls_total', help: 'Manifests pulled (GET), by repository team', labelNames: ['team'], registers });
    this.bytes = new Counter({ name: 'muelle_registry_bytes_total', help: 'Bytes received (in) and sent (out) by /v2 requests, by repository team', labelNames: ['team', 'direction'], registers });
    this.errors = new Counter({ name: 'muelle_registry_errors_total', help: 'Refused or failed /v2 requests by repository team and OCI error code', labelNames: ['team', 'code'], registers });
  }

  /**
   * Follows one /v2 request to its end. `authorized()` is called once the caller may act on the
   * repository; until then its traffic counts under `none`.
   */
  track(req: IncomingMessage, res: ServerResponse, route: Route): { authorized(): void; failed(code: string): void } {
    const socket = req.socket;
    const [read0, written0] = [socket.bytesRead, socket.bytesWritten];
    let team = 'none';
    let failure: string | null = null;
    res.once('close', () => {
      this.bytes.inc({ team, direction: 'in' }, Math.max(0, socket.bytesRead - read0));
      this.bytes.inc({ team, direction: 'out' }, Math.max(0, socket.bytesWritten - written0));
      if (failure) return this.errors.inc({ team, code: failure });
      if (route.kind !== 'manifest' || res.statusCode >= 300) return;
      if (req.method === 'PUT') this.pushes.inc({ team });
      else if (req.method === 'GET') this.pulls.inc({ team });
    });
    return {
      authorized: () => {
        if ('name' in route) team = this.label(repositoryTeam(route.name));
      },
      failed: (code) => {
        failure = code;
      },
    };
  }

  private label(team: string): string {
    if (this.teams.has(team)) return team;
    if (this.teams.size >= MAX_TEAMS) return 'other';
    this.teams.add(team);
    return team;
  }
}
