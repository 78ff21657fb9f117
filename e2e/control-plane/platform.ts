import { createRegistryClient } from '@muelle/registry-client';
import { startS3Server, type RunningS3Server } from '@muelle/storage';
import {
  basicAuth,
  createTestDatabase,
  freePort,
  getJson,
  repoRoot,
  serviceEntry,
  spawnNode,
  ServiceProcess,
  startDistributionRegistry,
  startNatsServer,
  TestCertificates,
  RunningDistribution,
  waitReady,
} from '@muelle/testing';
import { spawn, spawnSync } from 'node:child_process';
import { createReadStream, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ADMIN_PASSWORD = 'control-plane-pw';
export const adminAuth = basicAuth('admin', ADMIN_PASSWORD);

export interface AgentSpec {
  hostId: string;
  /** Run inside this network namespace (`ip netns exec`), with this address. */
  netns?: { name: string; address: string };
  labels?: string;
  /**
   * Start it with `ip netns exec`, which remounts /sys and so hides every cgroup hierarchy: an
   * agent that cannot make containers, as users hit it (issue 17).
   */
  hideCgroups?: boolean;
}

export interface Platform {
  api: string;
  /** Every api replica's base URL (`api` first); more than one with `apiReplicas`. */
  apis: string[];
  /** The platform's own NATS server (loopback). */
  natsPort: number;
  /** NATS_URL and the credentials a service needs to join this platform's bus. */
  busEnv: Record<string, string>;
  apiPort: number;
  registryAddress: string;
  /** The "other" registry (CNCF Distribution) holding `busybox:1`. */
  other: RunningDistribution & { host: string };
  agents: Map<string, ServiceProcess>;
  processes: ServiceProcess[];
  /** Each service's (and each agent's, as `agent-<host>`) own data folder, in its own temp directory. */
  dataDirs: Record<string, string>;
  /** The S3 server holding the registry's blobs, when started with `storage: 's3'`. */
  s3?: RunningS3Server;
  startAgent(spec: AgentSpec): Promise<ServiceProcess>;
  stop(): Promise<void>;
}

/** Writes a busybox OCI layout (tools/images) and pushes it to `registryUrl` as `repository:tag`. */
export async function seedBusybox(registryUrl: string, repository: string, tag: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'busybox-layout-'));
  const made = spawnSync(process.execPath, [join(repoRoot, 'tools/images/make-oci-layout.mjs'), dir, '--busybox', '--tag', tag], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`make-oci-layout failed: ${made.stderr}`);
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
  const descriptor = index.manifests[0];
  const blobPath = (digest: string) => join(dir, 'blobs', 'sha256', digest.slice(7));
  const manifestBytes = readFileSync(blobPath(descriptor.digest));
  const manifest = JSON.parse(manifestBytes.toString('utf8'));
  const client = createRegistryClient({ baseUrl: registryUrl });
  for (const blob of [manifest.config, ...manifest.layers]) {
    await client.pushBlob(repository, blob.digest, statSync(blobPath(blob.digest)).size, () => createReadStream(blobPath(blob.digest)));
  }
  await client.putManifest(repository, tag, manifestBytes, descriptor.mediaType ?? manifest.mediaType);
  return descriptor.digest;
}

/**
 * A distributed platform on real NATS and PostgreSQL: metadata, registry (0.0.0.0 so agents in
 * other network namespaces reach it), builder, api and agents as separate processes, each with its
 * own data folder in its own temp directory (as on separate machines: nothing shared but NATS,
 * PostgreSQL and, with `storage: 's3'`, the registry's S3 server), plus another registry holding busybox.
 */
export async function startPlatform(options: {
  registryHost?: string;
  agents: AgentSpec[];
  apiEnv?: Record<string, string>;
  tls?: TestCertificates;
  /** Where the registry keeps blobs: its own data folder (default) or an S3 server (s3rver) started for this platform. */
  storage?: 'filesystem' | 's3';
  /** Api replicas on one bus and database, each with its own port and data folder (default 1). */
  apiReplicas?: number;
  /** Variables for every service and agent (e.g. a shorter bus-stream silence limit). */
  env?: Record<string, string>;
}): Promise<Platform> {
  const db = await createTestDatabase();
  const dataDirs: Record<string, string> = {};
  const dataDirOf = (name: string) => (dataDirs[name] ??= mkdtempSync(join(tmpdir(), `muelle-cp-${name}-`)));
  const s3 = options.storage === 's3' ? await startS3Server() : undefined;
  const storageEnv: Record<string, string> = s3
    ? { MUELLE_STORAGE_DRIVER: 's3', S3_ENDPOINT: `http://${s3.endPoint}:${s3.port}`, S3_ACCESS_KEY: s3.accessKey, S3_SECRET_KEY: s3.secretKey, S3_BUCKET: 'muelle-cp' }
    : {};
  const registryPort = await freePort();
  const apiPort = await freePort();
  const registryAddress = `${options.registryHost ?? '127.0.0.1'}:${registryPort}`;
  // A private NATS that requires a user and password, as in production: platforms of parallel
  // suites (and other people's tests) on one shared server would answer each other's requests.
  const nats = await startNatsServer();
  const natsPort = nats.port;
  // With certificates: the api and registry serve HTTPS, and every service trusts the test CA.
  const tls = options.tls;
  const scheme = tls ? 'https' : 'http';
  const common = { ...nats.env, DATABASE_URL: db.url, MUELLE_ADMIN_PASSWORD: ADMIN_PASSWORD, MUELLE_LOG_LEVEL: 'warn', ...(tls ? { MUELLE_TLS_CA: tls.ca } : {}), ...options.env };
  const serveTls: Record<string, string> = tls ? { MUELLE_TLS_CERT: tls.cert, MUELLE_TLS_KEY: tls.key } : {};
  const processes: ServiceProcess[] = [];
  const agents = new Map<string, ServiceProcess>();
  const start = (name: string, env: Record<string, string>) => {
    const child = spawnNode(name, serviceEntry(name), { ...common, MUELLE_DATA_DIR: dataDirOf(name), ...env });
    processes.push(child);
    return child;
  };

  const metadataPort = await freePort();
  start('metadata', { MUELLE_METADATA_PORT: String(metadataPort), MUELLE_HOST_DOWN_AFTER_SECONDS: '4' });
  await waitReady(`http://127.0.0.1:${metadataPort}`, 60_000);
  start('registry', { MUELLE_REGISTRY_PORT: String(registryPort), MUELLE_BIND_HOST: '0.0.0.0', MUELLE_REGISTRY_PUBLIC_URL: `${scheme}://${registryAddress}`, ...storageEnv, ...serveTls });
  start('builder', { MUELLE_BUILDER_PORT: String(await freePort()), MUELLE_REGISTRY_ADDRESS: registryAddress });
  const apiPorts = [apiPort];
  for (let replica = 1; replica < (options.apiReplicas ?? 1); replica++) apiPorts.push(await freePort());
  for (const [replica, port] of apiPorts.entries()) {
    start('api', {
      ...(replica ? { MUELLE_DATA_DIR: dataDirOf(`api-${replica}`) } : {}),
      MUELLE_API_PORT: String(port),
      MUELLE_REGISTRY_ADDRESS: registryAddress,
      MUELLE_RECONCILE_SECONDS: '1',
      ...serveTls,
      ...options.apiEnv,
    }).name = replica ? `api-${replica}` : 'api';
  }
  await waitReady(`${scheme}://127.0.0.1:${registryPort}`, 60_000, tls?.ca);
  for (const port of apiPorts) await waitReady(`${scheme}://127.0.0.1:${port}`, 60_000, tls?.ca);

  const distribution = await startDistributionRegistry();
  const other = { ...distribution, host: new URL(distribution.url).host };
  await seedBusybox(distribution.url, 'library/busybox', '1');

  const startAgent = async (spec: AgentSpec) => {
    const port = await freePort();
    const env: Record<string, string> = {
      ...common,
      MUELLE_DATA_DIR: dataDirOf(`agent-${spec.hostId}`),
      MUELLE_HOST_ID: spec.hostId,
      MUELLE_AGENT_PORT: String(port),
      MUELLE_HOST_ADDRESS: spec.netns?.address ?? '127.0.0.1',
      // As the README asks: agents send Muelle credentials only to the registry they know as Muelle's.
      MUELLE_REGISTRY_ADDRESS: registryAddress,
      MUELLE_HEARTBEAT_SECONDS: '1',
      // Tests never ask a real resolver: names the networks do not know are refused.
      MUELLE_DNS_UPSTREAM: '',
      MUELLE_OVERLAY_RECONCILE_SECONDS: '2',
      ...(spec.labels ? { MUELLE_HOST_LABELS: spec.labels } : {}),
    };
    let child: ServiceProcess;
    if (spec.netns) {
      // Same capture as spawnNode, but inside the host's network namespace. nsenter, not
      // `ip netns exec`: the latter remounts /sys and hides the cgroup hierarchies from the agent.
      const entry = [process.execPath, join(repoRoot, serviceEntry('agent'))];
      const [command, ...args] = spec.hideCgroups ? ['ip', 'netns', 'exec', spec.netns.name, ...entry] : ['nsenter', `--net=/run/netns/${spec.netns.name}`, ...entry];
      const proc = spawn(command, args, {
        cwd: repoRoot,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let text = '';
      proc.stdout!.on('data', (c) => (text += c));
      proc.stderr!.on('data', (c) => (text += c));
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
      child = {
        name: `agent-${spec.hostId}`,
        child: proc,
        output: () => text,
        exited,
        async stop(signal = 'SIGTERM') {
          if (proc.exitCode !== null || proc.signalCode !== null) return;
          proc.kill(signal);
          const timer = setTimeout(() => proc.kill('SIGKILL'), 8_000);
          await exited;
          clearTimeout(timer);
        },
      };
      processes.push(child);
    } else {
      child = start('agent', env);
      child.name = `agent-${spec.hostId}`;
    }
    agents.set(spec.hostId, child);
    const deadline = Date.now() + 60_000;
    for (;;) {
      // A loaded machine can take longer than getJson's 5 s for the first password check: ask again until the deadline.
      const hosts = await getJson(`${scheme}://127.0.0.1:${apiPort}/v1/hosts`, { headers: adminAuth, ca: tls?.ca }).catch((error: Error) => ({ body: null, status: 0, error }));
      if (hosts.body?.items?.some((h: { id: string; state: string }) => h.id === spec.hostId && h.state === 'ready')) break;
      if (Date.now() > deadline || child.child.exitCode !== null) {
        // What the api last answered and every process's log: a registration that never shows has its cause in one of them.
        const last = 'error' in hosts ? `error ${hosts.error.message}` : `${hosts.status} ${JSON.stringify(hosts.body).slice(0, 1500)}`;
        const others = processes.filter((p) => p !== child).map((p) => `--- ${p.name}\n${p.output().slice(-1500)}`);
        throw new Error(`agent ${spec.hostId} did not register (exit ${child.child.exitCode}); GET /v1/hosts last gave ${last}\n--- ${child.name}\n${child.output().slice(-3000)}\n${others.join('\n')}`);
      }
      await new Promise((r) => setTimeout(r, 300));
    }
    return child;
  };
  for (const spec of options.agents) await startAgent(spec);

  return {
    api: `${scheme}://127.0.0.1:${apiPort}`,
    apis: apiPorts.map((port) => `${scheme}://127.0.0.1:${port}`),
    apiPort,
    registryAddress,
    other,
    agents,
    processes,
    dataDirs,
    s3,
    startAgent,
    natsPort,
    busEnv: nats.env,
    async stop() {
      await Promise.all([...processes].reverse().map((p) => p.stop()));
      // Containers outlive their agents by design (detached helpers): end the ones this platform
      // started, found by their agents' private data dirs, so no namespace or veth outlives the test.
      for (const [name, dir] of Object.entries(dataDirs)) if (name.startsWith('agent-')) spawnSync('pkill', ['-KILL', '-f', `exit-file ${dir}/`]);
      await nats.stop();
      await s3?.stop();
      await distribution.stop();
      await db.drop();
    },
  };
}

/** Output of every process, for failure messages. */
export const logsOf = (platform: Platform | undefined) => (platform ? platform.processes.map((p) => `--- ${p.name}\n${p.output().slice(-2500)}`).join('\n') : '');
