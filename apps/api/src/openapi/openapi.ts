import { RegistryRepositoryName } from '@muelle/contracts';
import { z } from 'zod';
import { routes } from './openapi-routes';

export { routes };

const ref = {
  name: 'ref',
  in: 'path',
  required: true,
  description: 'container id, unique id prefix or name',
  schema: { type: 'string' },
};

const repositoryName = {
  name: 'name',
  in: 'path',
  required: true,
  description: 'repository name, e.g. team/app; its slashes may be sent as they are (/v1/repositories/team/app) or encoded (team%2Fapp)',
};

const jsonSchema = (schema: z.ZodType) =>
  z.toJSONSchema(schema, {
    io: 'input',
    unrepresentable: 'any',
    target: 'openapi-3.0',
  }) as Record<string, any>;

const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: {
          type: 'string',
          enum: ['INVALID_ARGUMENT', 'UNAUTHENTICATED', 'TOO_MANY_REQUESTS', 'PERMISSION_DENIED', 'NOT_FOUND', 'CONFLICT', 'UNAVAILABLE', 'TIMEOUT', 'INTERNAL'],
        },
        message: { type: 'string' },
        details: { description: 'for 400s: {field, issues:[{field,message}]}' },
      },
    },
  },
};

export function openApiDocument(version: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const parameters: unknown[] = [];
    for (const match of route.path.matchAll(/\{(\w+)\}/g))
      parameters.push(
        match[1] === 'ref'
          ? ref
          : match[1] === 'name'
            ? { ...repositoryName, schema: jsonSchema(RegistryRepositoryName) }
            : {
              name: match[1],
              in: 'path',
              required: true,
              schema: { type: 'string' },
            },
      );
    if (route.query) {
      const schema = jsonSchema(route.query);
      for (const [name, property] of Object.entries<Record<string, unknown>>(schema.properties ?? {})) {
        parameters.push({
          name,
          in: 'query',
          required: (schema.required ?? []).includes(name) && property.default === undefined,
          schema: property,
        });
      }
    }
    const error = {
      description: 'error',
      content: {
        'application/json': { schema: { $ref: '#/components/schemas/Error' } },
      },
    };
    paths[route.path] ??= {};
    paths[route.path][route.method] = {
      summary: route.summary,
      tags: [route.tag],
      operationId: `${route.method}${route.path
        .replace(/[{}]/g, '')
        .replace(/\/(\w)/g, (_, c: string) => c.toUpperCase())
        .replace(/[^A-Za-z0-9]/g, '')}`,
      security: route.public ? [] : undefined,
      parameters,
      requestBody: route.body
        ? {
            required: true,
            content: { 'application/json': { schema: jsonSchema(route.body) } },
          }
        : undefined,
      responses: {
        [String(route.status ?? 200)]: {
          description: 'success',
          content: { [route.streams ?? 'application/json']: {} },
        },
        '400': error,
        '401': error,
        '403': error,
        '404': error,
        '409': error,
        '429': { ...error, description: 'too many failed logins; Retry-After says when to try again' },
        '503': error,
      },
    };
  }
  return {
    openapi: '3.0.3',
    info: {
      title: 'Muelle API',
      version,
      description: 'Containers, images, hosts and events of a Muelle platform. Errors are always {"error":{code,message,details}}.',
    },
    servers: [{ url: '/' }],
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer' },
        basic: { type: 'http', scheme: 'basic' },
      },
      schemas: { Error: errorSchema },
    },
    security: [{ bearer: [] }, { basic: [] }],
    paths,
  };
}

const escape = (text: string) => text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** A self-contained page (no CDN: platforms often run offline) rendered from the same document. */
export function docsPage(document: ReturnType<typeof openApiDocument>): string {
  const sections = Object.entries(document.paths)
    .flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]: [string, any]) => {
        const params = (op.parameters as any[])
          .map((p) => `<li><code>${escape(p.name)}</code> (${p.in}${p.required ? ', required' : ''}) ${escape(JSON.stringify(p.schema))}</li>`)
          .join('');
        const body = op.requestBody
          ? `<details><summary>body</summary><pre>${escape(JSON.stringify(op.requestBody.content['application/json'].schema, null, 2))}</pre></details>`
          : '';
        return `<section><h3><span class="m ${method}">${method.toUpperCase()}</span> <code>${escape(path)}</code></h3><p>${escape(op.summary)}</p>${params ? `<ul>${params}</ul>` : ''}${body}</section>`;
      }),
    )
    .join('\n');
  return `<!doctype html><html><head><meta charset="utf-8"><title>Muelle API</title><style>
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
section{border-top:1px solid #ddd;padding:.5rem 0}.m{font-size:.8rem;padding:.1rem .4rem;border-radius:.2rem;color:#fff;background:#555}
.get{background:#2a7}.post{background:#27a}.patch{background:#a72}.delete{background:#a33}pre{background:#f6f6f6;padding:.5rem;overflow:auto}
</style></head><body><h1>Muelle API ${escape(document.info.version)}</h1><p>${escape(document.info.description)} Machine-readable: <a href="/openapi.json">/openapi.json</a>.</p>
${sections}</body></html>`;
}
