import 'reflect-metadata';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { RequestMethod } from '@nestjs/common';
import { ContainersController } from '../containers/containers.controller';
import { ContainerArchiveController } from '../containers/archive.controller';
import { HostsController } from '../hosts/hosts.controller';
import { ImagesController } from '../images/images.controller';
import { EventsController } from '../events/events.controller';
import { TeamsController } from '../teams/teams.controller';
import { TeamLimitsController } from '../teams/team-limits.controller';
import { TokensController } from '../auth/tokens.controller';
import { SessionController } from '../auth/session.controller';
import { UsersController } from '../accounts/users.controller';
import { BuildsController } from '../builds/builds.controller';
import { RepositoriesController } from '../repositories/repositories.controller';
import { SystemController } from '../system/system.controller';
import { ServicesController } from '../services/services.controller';
import { NetworksController } from '../networks/networks.controller';
import { VolumesController } from '../volumes/volumes.controller';
import { docsPage, openApiDocument, routes } from './openapi';

const controllers = [ContainersController, ContainerArchiveController, HostsController, ImagesController, EventsController, TeamsController, TeamLimitsController, TokensController, SessionController, UsersController, BuildsController, RepositoriesController, SystemController, ServicesController, NetworksController, VolumesController];

/** Every route a controller serves, as `METHOD /path/{param}`. */
function servedRoutes(): string[] {
  const served: string[] = [];
  for (const controller of controllers) {
    const base = Reflect.getMetadata(PATH_METADATA, controller) as string;
    for (const key of Object.getOwnPropertyNames(controller.prototype)) {
      const handler = (controller.prototype as unknown as Record<string, object>)[key];
      const path = Reflect.getMetadata(PATH_METADATA, handler) as string | undefined;
      if (path === undefined || key === 'constructor') continue;
      const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as number];
      const full = `/${[base, path].filter((p) => p && p !== '/').join('/')}`.replace(/[:*](\w+)/g, '{$1}');
      served.push(`${method} ${full}`);
    }
  }
  return served.sort();
}

describe('OpenAPI document', () => {
  it('documents every route the controllers serve, and nothing they do not', () => {
    const documented = routes.filter((r) => !r.path.endsWith('/ws')).map((r) => `${r.method.toUpperCase()} ${r.path}`);
    expect(documented.sort()).toEqual(servedRoutes());
  });

  it('takes request schemas from the validating zod schemas', () => {
    const doc = openApiDocument('test');
    const body = (doc.paths['/v1/containers'].post as any).requestBody.content['application/json'].schema;
    expect(body.required).toEqual(['image']);
    expect(body.properties.restartPolicy.properties.name.enum).toEqual(['no', 'on-failure', 'always', 'unless-stopped']);
    const listParams = (doc.paths['/v1/containers'].get as any).parameters.map((p: { name: string }) => p.name);
    expect(listParams).toEqual(['all', 'limit', 'cursor', 'state', 'host', 'team', 'name', 'label']);
    const ids = Object.values(doc.paths).flatMap((methods) => Object.values(methods).map((op: any) => op.operationId));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('documents the repository settings body and the slash-carrying name parameter', () => {
    const doc = openApiDocument('test');
    const patch = doc.paths['/v1/repositories/{name}'].patch as any;
    const body = patch.requestBody.content['application/json'].schema;
    expect(body).toMatchObject({ properties: { anonymousPull: { type: 'boolean' }, shared: { type: 'boolean' } }, additionalProperties: false });
    expect(body.required ?? []).toEqual([]);
    expect(patch.parameters).toEqual([expect.objectContaining({ name: 'name', in: 'path', required: true, schema: expect.objectContaining({ pattern: expect.any(String) }) })]);
    expect(new RegExp(patch.parameters[0].schema.pattern).test('team/app')).toBe(true);
    expect(docsPage(doc)).toContain('<span class="m patch">PATCH</span> <code>/v1/repositories/{name}</code>');
  });
});
