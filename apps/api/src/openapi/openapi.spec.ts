import 'reflect-metadata';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { RequestMethod } from '@nestjs/common';
import { ContainersController } from '../containers/containers.controller';
import { HostsController } from '../hosts/hosts.controller';
import { ImagesController } from '../images/images.controller';
import { EventsController } from '../events/events.controller';
import { TeamsController } from '../teams/teams.controller';
import { TokensController } from '../auth/tokens.controller';
import { BuildsController } from '../builds/builds.controller';
import { openApiDocument, routes } from './openapi';

const controllers = [ContainersController, HostsController, ImagesController, EventsController, TeamsController, TokensController, BuildsController];

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
      const full = `/${[base, path].filter((p) => p && p !== '/').join('/')}`.replace(/:(\w+)/g, '{$1}');
      served.push(`${method} ${full}`);
    }
  }
  return served.sort();
}

describe('OpenAPI document', () => {
  it('documents every route the controllers serve, and nothing they do not', () => {
    const documented = routes.filter((r) => !r.path.endsWith('/ws') && r.path !== '/v1/version').map((r) => `${r.method.toUpperCase()} ${r.path}`);
    expect(documented.sort()).toEqual(servedRoutes());
  });

  it('takes request schemas from the validating zod schemas', () => {
    const doc = openApiDocument('test');
    const body = (doc.paths['/v1/containers'].post as any).requestBody.content['application/json'].schema;
    expect(body.required).toEqual(['image']);
    expect(body.properties.restartPolicy.properties.name.enum).toEqual(['no', 'on-failure', 'always', 'unless-stopped']);
    const listParams = (doc.paths['/v1/containers'].get as any).parameters.map((p: { name: string }) => p.name);
    expect(listParams).toEqual(['all', 'limit', 'cursor', 'state', 'host', 'name', 'label']);
    const ids = Object.values(doc.paths).flatMap((methods) => Object.values(methods).map((op: any) => op.operationId));
    expect(new Set(ids).size).toBe(ids.length);
  });
});
