import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { parseConfig } from '@muelle/service-kit';
import { agentConfigSchema } from '../../apps/agent/src/config';
import { apiConfigSchema } from '../../apps/api/src/config';
import { builderConfigSchema } from '../../apps/builder/src/config';
import { metadataConfigSchema } from '../../apps/metadata/src/config';
import { registryConfigSchema } from '../../apps/registry/src/config';

// docker-compose.yml cannot be run on our machines (no image registry), so this keeps it honest:
// every service's environment must satisfy that app's own config schema, and the wiring must add up.
const root = join(__dirname, '..', '..');
const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true });

const apps: Record<string, { schema: z.ZodObject<z.ZodRawShape>; portVariable: string }> = {
  metadata: { schema: metadataConfigSchema, portVariable: 'MUELLE_METADATA_PORT' },
  registry: { schema: registryConfigSchema as unknown as z.ZodObject<z.ZodRawShape>, portVariable: 'MUELLE_REGISTRY_PORT' },
  builder: { schema: builderConfigSchema, portVariable: 'MUELLE_BUILDER_PORT' },
  agent: { schema: agentConfigSchema, portVariable: 'MUELLE_AGENT_PORT' },
  api: { schema: apiConfigSchema, portVariable: 'MUELLE_API_PORT' },
};

// `${VAR:-default}` → default, as compose would substitute with VAR unset.
const substitute = (env: Record<string, string>) =>
  Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v).replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1')]));

describe('docker-compose.yml', () => {
  it.each(Object.keys(apps))('%s: environment satisfies the app config schema', (name) => {
    const service = compose.services[name];
    expect(service).toBeDefined();
    expect(() => parseConfig(apps[name].schema, substitute(service.environment))).not.toThrow();
  });

  it.each(Object.keys(apps))('%s: runs its own entry point and probes its own /readyz port', (name) => {
    const service = compose.services[name];
    const entry = service.command[service.command.length - 1] as string;
    expect(entry).toBe(`dist/apps/${name}/src/main.js`);
    expect(existsSync(join(root, `apps/${name}/src/main.ts`))).toBe(true);
    expect(service.healthcheck.test.join(' ')).toContain('/readyz');
    expect(service.environment.PROBE_PORT).toBe(service.environment[apps[name].portVariable]);
  });

  it('gives every service the NATS it can reach, and the backing services health checks', () => {
    for (const backing of ['nats', 'postgres', 'minio']) expect(compose.services[backing].healthcheck).toBeDefined();
    for (const name of Object.keys(apps)) {
      const { environment, network_mode: networkMode } = compose.services[name];
      const natsHost = new URL(environment.NATS_URL).hostname;
      if (networkMode === 'host') {
        expect(natsHost).toBe('127.0.0.1');
        expect(compose.services.nats.ports).toContain('127.0.0.1:4222:4222');
      } else {
        expect(natsHost).toBe('nats');
      }
    }
  });

  it('points the registry at MinIO and metadata at PostgreSQL with matching credentials', () => {
    const { registry, metadata, minio, postgres } = compose.services;
    expect(registry.environment.S3_ACCESS_KEY).toBe(minio.environment.MINIO_ROOT_USER);
    expect(registry.environment.S3_SECRET_KEY).toBe(minio.environment.MINIO_ROOT_PASSWORD);
    const db = new URL(metadata.environment.DATABASE_URL);
    expect([db.username, db.password, db.pathname.slice(1)]).toEqual([postgres.environment.POSTGRES_USER, postgres.environment.POSTGRES_PASSWORD, postgres.environment.POSTGRES_DB]);
  });

  it('gives the agent the privileges it needs to make containers', () => {
    const { agent } = compose.services;
    expect(agent.privileged).toBe(true);
    expect(agent.volumes).toContain('/sys/fs/cgroup:/sys/fs/cgroup');
  });
});
