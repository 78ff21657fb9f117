import { readdirSync, readFileSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { busConfigShape, natsBusOf, parseConfig, stopConfigShape } from '@muelle/service-kit';
import { agentConfigSchema } from '../../apps/agent/src/config';
import { apiConfigSchema } from '../../apps/api/src/config';
import { builderConfigSchema } from '../../apps/builder/src/config';
import { metadataConfigSchema } from '../../apps/metadata/src/config';
import { registryConfigSchema, registryConfigShape } from '../../apps/registry/src/config';

// docker-compose.yml cannot be run on our machines (no image registry), so this keeps it honest:
// every service's environment must satisfy that app's own config schema, and the wiring must add up.
const root = join(__dirname, '..', '..');
const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true });

const apps: Record<string, { schema: z.ZodObject<z.ZodRawShape>; variables: string[]; portVariable: string }> = {
  metadata: { schema: metadataConfigSchema, variables: Object.keys(metadataConfigSchema.shape), portVariable: 'MUELLE_METADATA_PORT' },
  registry: { schema: registryConfigSchema as unknown as z.ZodObject<z.ZodRawShape>, variables: [...Object.keys(registryConfigShape), 'NATS_URL'], portVariable: 'MUELLE_REGISTRY_PORT' },
  builder: { schema: builderConfigSchema, variables: Object.keys(builderConfigSchema.shape), portVariable: 'MUELLE_BUILDER_PORT' },
  agent: { schema: agentConfigSchema, variables: Object.keys(agentConfigSchema.shape), portVariable: 'MUELLE_AGENT_PORT' },
  api: { schema: apiConfigSchema, variables: Object.keys(apiConfigSchema.shape), portVariable: 'MUELLE_API_PORT' },
};
/** What every standalone service reads besides its own schema (libs/service-kit/src/standalone.ts). */
const READ_BY_EVERY_SERVICE = [...Object.keys(busConfigShape), ...Object.keys(stopConfigShape), 'MUELLE_BUS_NAMESPACE'];

/**
 * What each service must be told when it runs on a machine of its own: the defaults of these
 * suit one machine only (loopback addresses, a local disk, the machine's hostname).
 */
const NEEDED_APART: Record<string, Record<string, string>> = {
  metadata: { DATABASE_URL: 'the embedded PGlite is one process on one disk', MUELLE_BIND_HOST: 'its health port is probed' },
  registry: {
    MUELLE_BIND_HOST: 'other machines push and pull',
    MUELLE_STORAGE_DRIVER: 'blobs in MinIO, not in one container',
    S3_ENDPOINT: 'required with s3',
    S3_ACCESS_KEY: 'required with s3',
    S3_SECRET_KEY: 'required with s3',
  },
  builder: { MUELLE_REGISTRY_ADDRESS: 'it pulls base images from and pushes to the registry', MUELLE_DATA_DIR: 'its layer cache' },
  agent: {
    MUELLE_REGISTRY_ADDRESS: 'it pulls images with Muelle credentials from there only',
    MUELLE_HOST_ID: 'its name in the platform (default: the hostname, which a container does not share)',
    MUELLE_HOST_ADDRESS: 'where published ports answer',
    MUELLE_DATA_DIR: 'layers and container state outlive the container',
  },
  api: { MUELLE_REGISTRY_ADDRESS: 'short image names resolve there', MUELLE_BIND_HOST: 'clients connect from outside its container' },
};

// As compose substitutes with only the required secrets given (in .env): `${VAR:-default}` →
// default, `${VAR:?message}` → a stand-in value.
const secretStandIn = (name: string) => `${name.toLowerCase()}-from-env`;
const substitute = (env: Record<string, string>) =>
  Object.fromEntries(
    Object.entries(env).map(([k, v]) => [
      k,
      String(v)
        .replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1')
        .replace(/\$\{([A-Z_]+):\?[^}]*\}/g, (_m, name: string) => secretStandIn(name)),
    ]),
  );
// Variable names that hold secrets; S3_ACCESS_KEY is a user name and MUELLE_TLS_KEY a file path.
const SECRET = /PASSWORD|SECRET|TOKEN|NKEY_SEED|_KEY$/;
const NOT_SECRET = new Set(['S3_ACCESS_KEY', 'MUELLE_TLS_KEY']);
const fromEnvOnly = (value: string) => /^\$\{[A-Z_]+:(\?[^}]+|-)\}$/.test(value);

/** The Debian package of each command the agent runs (`runHostCommand`), and of each library the isolation helper links. */
const PACKAGE_OF: Record<string, string> = { ip: 'iproute2', bridge: 'iproute2', nft: 'nftables', iptables: 'iptables', 'iptables-restore': 'iptables', modprobe: 'kmod', nsenter: 'util-linux' };
const LIBRARY_PACKAGE_OF: Record<string, string> = { seccomp: 'libseccomp2' };

/** The packages the final stage of the Dockerfile installs. */
function installedPackages(): Set<string> {
  const finalStage = readFileSync(join(root, 'Dockerfile'), 'utf8').split(/^FROM /m).pop()!;
  return new Set(/apt-get install[^&]*/.exec(finalStage)![0].split(/\s+/).filter((word) => /^[a-z0-9][a-z0-9.+-]+$/.test(word)));
}

function productionSources(dirs: string[]): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((entry) => {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) return walk(path);
      return /\.ts$/.test(entry) && !/\.(spec|int-spec)\.ts$/.test(entry) ? [path] : [];
    });
  return dirs.flatMap((dir) => walk(join(root, dir)));
}

describe('docker-compose.yml', () => {
  it.each(Object.keys(apps))('%s: environment satisfies the app config schema', (name) => {
    const service = compose.services[name];
    expect(service).toBeDefined();
    expect(() => parseConfig(apps[name].schema, substitute(service.environment))).not.toThrow();
  });

  it.each(Object.keys(apps))('%s: sets no variable the service does not read (a typo or a renamed variable is silently ignored)', (name) => {
    const read = new Set([...apps[name].variables, ...READ_BY_EVERY_SERVICE, 'PROBE_PORT']);
    expect(Object.keys(compose.services[name].environment).filter((variable) => !read.has(variable))).toEqual([]);
  });

  it.each(Object.keys(apps))('%s: is told what a service on a machine of its own needs', (name) => {
    // The image's ENV (Dockerfile) counts: MUELLE_DATA_DIR=/var/lib/muelle there, a volume here.
    const finalStage = readFileSync(join(root, 'Dockerfile'), 'utf8').split(/^FROM /m).pop()!;
    const imageEnv = new Set([...(/^ENV (.*)$/m.exec(finalStage)?.[1] ?? '').matchAll(/([A-Z_]+)=/g)].map((m) => m[1]));
    const { environment, volumes } = compose.services[name];
    for (const [variable, why] of Object.entries(NEEDED_APART[name])) {
      expect({ variable, why, set: variable in environment || imageEnv.has(variable) }).toEqual({ variable, why, set: true });
      expect(apps[name].variables).toContain(variable);
    }
    if (NEEDED_APART[name].MUELLE_DATA_DIR) expect((volumes as string[]).some((v) => v.endsWith(`:${environment.MUELLE_DATA_DIR ?? '/var/lib/muelle'}`))).toBe(true);
  });

  it("asks in README's \"Running it distributed\" for exactly the secrets compose requires", () => {
    const required = new Set<string>();
    const collect = (value: unknown): void => {
      if (typeof value === 'string') for (const m of value.matchAll(/\$\{([A-Z_]+):\?/g)) required.add(m[1]);
      else if (value && typeof value === 'object') Object.values(value).forEach(collect);
    };
    collect(compose.services);
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Running it distributed'));
    const asked = /for v in ([A-Z_ ]+); do echo "\$v=\$\(openssl rand -hex 24\)"; done > \.env/.exec(section)?.[1].trim().split(/\s+/);
    expect(asked?.sort()).toEqual([...required].sort());
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
    const db = new URL(substitute(metadata.environment).DATABASE_URL);
    const pg = substitute(postgres.environment);
    expect([db.username, db.password, db.pathname.slice(1)]).toEqual([pg.POSTGRES_USER, pg.POSTGRES_PASSWORD, pg.POSTGRES_DB]);
  });

  it('holds no literal secret: every password, secret and token comes from the environment (.env)', () => {
    for (const [name, service] of Object.entries<{ environment?: Record<string, string>; command?: string[] }>(compose.services)) {
      for (const [variable, value] of Object.entries(service.environment ?? {})) {
        if (SECRET.test(variable) && !NOT_SECRET.has(variable)) expect({ service: name, variable, value, fromEnv: fromEnvOnly(String(value)) }).toMatchObject({ fromEnv: true });
        if (/^(postgres|nats|https?):\/\//.test(String(value))) {
          const password = new URL(String(value).replace(/\$\{[^}]+\}/g, 'X')).password;
          expect({ service: name, variable, passwordInUrl: password === '' || password === 'X' }).toMatchObject({ passwordInUrl: true });
        }
      }
      expect((service.command ?? []).join(' ')).not.toMatch(/--pass|--user|--auth/);
    }
    // The admin password: generated and printed once when unset, never a default here.
    expect(compose.services.metadata.environment.MUELLE_ADMIN_PASSWORD).toBe('${MUELLE_ADMIN_PASSWORD:-}');
  });

  it('runs NATS with a user whose password only the environment knows, and gives every service those credentials', () => {
    const { nats } = compose.services;
    const mount = (nats.volumes as string[]).find((v) => v.endsWith(':/etc/nats/muelle.conf:ro'))!;
    expect(nats.command).toEqual(['-c', '/etc/nats/muelle.conf']);
    const conf = readFileSync(join(root, mount.split(':')[0]), 'utf8');
    expect(conf).toMatch(/authorization\s*\{\s*users:\s*\[\s*\{\s*user:\s*muelle,\s*password:\s*\$NATS_PASSWORD\s*\}/);
    expect(nats.environment.NATS_PASSWORD).toMatch(/^\$\{NATS_PASSWORD:\?/);
    for (const name of Object.keys(apps)) {
      const env = substitute(compose.services[name].environment);
      expect(env).toMatchObject({ NATS_USER: 'muelle', NATS_PASSWORD: secretStandIn('NATS_PASSWORD') });
      const refuseFiles = (path: string): string => {
        throw new Error(`compose gives ${name} no file ${path}`);
      };
      expect(natsBusOf({ ...parseConfig(z.object(busConfigShape), env), NATS_URL: env.NATS_URL }, undefined, refuseFiles).auth).toEqual({ kind: 'user', user: 'muelle', password: secretStandIn('NATS_PASSWORD') });
    }
  });

  it('publishes the api and the registry on the host loopback unless the operator chose an address (with TLS)', () => {
    for (const name of ['api', 'registry']) {
      const ports = compose.services[name].ports as string[];
      expect(ports).toHaveLength(1);
      const [published] = ports.map((p) => p.replace(/\$\{MUELLE_PUBLISH_HOST:-([^}]*)\}/, '$1'));
      expect(published.split(':')[0]).toBe('127.0.0.1');
      expect(substitute(compose.services[name].environment)).toMatchObject({ MUELLE_TLS_CERT: '', MUELLE_TLS_KEY: '' });
    }
    for (const [name, service] of Object.entries<{ ports?: string[] }>(compose.services)) {
      for (const port of service.ports ?? []) expect({ service: name, port, onLoopbackByDefault: port.startsWith('127.0.0.1:') || port.startsWith('${MUELLE_PUBLISH_HOST:-127.0.0.1}:') }).toMatchObject({ onLoopbackByDefault: true });
    }
  });

  it('gives the api, the builder and the agent one registry address that each of them reaches', () => {
    const { registry, agent } = compose.services;
    const registryPort = substitute(registry.environment).MUELLE_REGISTRY_PORT;
    const addresses = ['api', 'builder', 'agent'].map((name) => ({ name, env: substitute(compose.services[name].environment) }));
    const [address] = new Set(addresses.map(({ env }) => env.MUELLE_REGISTRY_ADDRESS));
    expect(addresses.map(({ env }) => env.MUELLE_REGISTRY_ADDRESS)).toEqual([address, address, address]);
    const [host, port] = address.split(':');
    // On the compose network the name is the registry service; the agent (host network) maps it to
    // the loopback port the registry is published on.
    expect([host, port]).toEqual(['registry', registryPort]);
    expect(agent.network_mode).toBe('host');
    expect(agent.extra_hosts).toContain(`${host}:127.0.0.1`);
    expect(registry.ports.map((p: string) => p.replace(/\$\{MUELLE_PUBLISH_HOST:-([^}]*)\}/, '$1'))).toContain(`127.0.0.1:${port}:${registryPort}`);
    // Without TLS (the default) the registry speaks http: each client must be allowed it.
    for (const { name, env } of addresses) expect({ name, insecure: env.MUELLE_INSECURE_REGISTRIES.split(',') }).toEqual({ name, insecure: expect.arrayContaining([address]) });
  });

  it('installs in the image the package of every command the agent runs on its host', () => {
    const commands = new Set<string>();
    for (const file of productionSources(['apps/agent/src', 'apps/builder/src', 'libs/isolation/src'])) {
      for (const match of readFileSync(file, 'utf8').matchAll(/(?:runHostCommand|works)\(\s*'([a-z0-9_-]+)'/g)) commands.add(match[1]);
    }
    const installed = installedPackages();
    expect(commands.size).toBeGreaterThan(0);
    for (const command of commands) {
      // A new command needs its Debian package here and in the Dockerfile.
      expect({ command, package: PACKAGE_OF[command] }).toEqual({ command, package: expect.any(String) });
      expect({ command, installed: installed.has(PACKAGE_OF[command]) }).toEqual({ command, installed: true });
    }
  });

  it('installs the libraries the isolation helper (agent and builder) links', () => {
    const makefile = readFileSync(join(root, 'libs/isolation/native/Makefile'), 'utf8');
    const libraries = new Set([...makefile.matchAll(/pkg-config --libs lib([a-z0-9]+)|\s-l([a-z0-9]+)/g)].map((m) => m[1] ?? m[2]));
    expect([...libraries]).toContain('seccomp');
    const installed = installedPackages();
    for (const library of libraries) expect({ library, installed: installed.has(LIBRARY_PACKAGE_OF[library]) }).toEqual({ library, installed: true });
  });

  it('gives the agent the privileges it needs to make containers', () => {
    const { agent } = compose.services;
    expect(agent.privileged).toBe(true);
    expect(agent.volumes).toContain('/sys/fs/cgroup:/sys/fs/cgroup');
  });
});
