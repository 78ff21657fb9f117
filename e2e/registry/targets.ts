import { freePort, serviceEntry, spawnNode, ServiceProcess, waitReady, eventually } from '@muelle/testing';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RegistryTarget {
  name: string;
  url: string;
  /** host:port as OCI tools want it. */
  host: string;
  credentials?: { username: string; password: string };
  stop(): Promise<void>;
}

export const ADMIN = { username: 'admin', password: 'conformance-secret' };

/** The all-in-one (embedded database, in-process bus, filesystem blobs) with its registry port. */
export async function startMuelle(env: Record<string, string> = {}): Promise<RegistryTarget & { process: ServiceProcess; dataDir: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'muelle-reg-'));
  const port = await freePort();
  const ports = { MUELLE_API_PORT: '0', MUELLE_METADATA_PORT: '0', MUELLE_BUILDER_PORT: '0', MUELLE_AGENT_PORT: '0' };
  const child = spawnNode('muelle', serviceEntry('all-in-one'), {
    MUELLE_DATA_DIR: dataDir,
    MUELLE_ADMIN_PASSWORD: ADMIN.password,
    MUELLE_REGISTRY_PORT: String(port),
    MUELLE_HOST_ID: 'solo',
    MUELLE_LOG_LEVEL: 'warn',
    ...ports,
    ...env,
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitReady(url, 60_000);
  } catch (error) {
    await child.stop();
    throw new Error(`muelle did not get ready: ${(error as Error).message}\n${child.output().slice(-3000)}`);
  }
  const auth = env.MUELLE_REGISTRY_AUTH !== 'false';
  return {
    name: 'muelle',
    url,
    host: `127.0.0.1:${port}`,
    process: child,
    dataDir,
    ...(auth ? { credentials: ADMIN } : {}),
    async stop() {
      await child.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** CNCF Distribution 2.8 from Debian (`apt-get install docker-registry`), no auth, deletes enabled. */
export async function startDistribution(): Promise<RegistryTarget> {
  const root = mkdtempSync(join(tmpdir(), 'distribution-'));
  const port = await freePort();
  const config = join(root, 'config.yml');
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log: { level: error }',
      'storage:',
      `  filesystem: { rootdirectory: ${join(root, 'data')} }`,
      '  delete: { enabled: true }',
      `http: { addr: "127.0.0.1:${port}" }`,
      '',
    ].join('\n'),
  );
  const child = spawn('/usr/bin/docker-registry', ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c) => (output += c));
  child.stderr.on('data', (c) => (output += c));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  await eventually(async () => {
    if (child.exitCode !== null) throw new Error(`docker-registry exited: ${output}`);
    const response = await fetch(`${url}/v2/`);
    if (response.status !== 200) throw new Error(`status ${response.status}`);
  });
  return {
    name: 'distribution',
    url,
    host: `127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
}
