import { freePort, NATS_TEST_URL, serviceEntry, spawnNode, uniqueBusNamespace, waitReady, ServiceProcess } from '@muelle/testing';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Distributed mode: metadata (embedded PGlite) and the registry (filesystem) as separate processes
 * on NATS, sharing one data folder with a lock each. Killed with SIGKILL twice and restarted, both
 * must come back ready without repair; a second copy of a running service on the folder is
 * refused with exit 3 naming the holder.
 */
describe('standalone services: kill -9 and restart on their data folder', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'muelle-standalone-crash-'));
  const processes: ServiceProcess[] = [];
  let env: Record<string, string>;
  const urls: Record<'metadata' | 'registry', string> = { metadata: '', registry: '' };

  const start = (service: 'metadata' | 'registry', extra: Record<string, string> = {}) => {
    const child = spawnNode(service, serviceEntry(service), { ...env, ...extra });
    processes.push(child);
    return child;
  };

  beforeAll(async () => {
    const metadataPort = await freePort();
    const registryPort = await freePort();
    env = {
      NATS_URL: NATS_TEST_URL,
      // The shared test NATS has no users (as the other e2e files on it say).
      MUELLE_BUS_INSECURE: 'true',
      MUELLE_BUS_NAMESPACE: uniqueBusNamespace(),
      MUELLE_DATA_DIR: dataDir,
      MUELLE_ADMIN_PASSWORD: 'standalone-pw',
      MUELLE_METADATA_PORT: String(metadataPort),
      MUELLE_REGISTRY_PORT: String(registryPort),
      MUELLE_LOG_LEVEL: 'warn',
    };
    urls.metadata = `http://127.0.0.1:${metadataPort}`;
    urls.registry = `http://127.0.0.1:${registryPort}`;
  });

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop('SIGKILL')));
  });

  it('comes back ready after two kills of both services, and refuses a second copy', async () => {
    for (let round = 0; round < 3; round++) {
      const metadata = start('metadata');
      const registry = start('registry');
      await waitReady(urls.metadata, 60_000);
      await waitReady(urls.registry, 60_000);
      expect(existsSync(join(dataDir, 'muelle-metadata.lock'))).toBe(true);
      expect(existsSync(join(dataDir, 'muelle-registry.lock'))).toBe(true);
      if (round === 2) {
        const copy = start('registry', { MUELLE_REGISTRY_PORT: '0' });
        expect((await copy.exited).code).toBe(3);
        expect(copy.output()).toMatch(/is in use by another Muelle process \(pid \d+\)/);
        await metadata.stop('SIGTERM');
        await registry.stop('SIGTERM');
        expect(await metadata.exited).toEqual({ code: 0, signal: null });
        expect(await registry.exited).toEqual({ code: 0, signal: null });
        break;
      }
      metadata.child.kill('SIGKILL');
      registry.child.kill('SIGKILL');
      await Promise.all([metadata.exited, registry.exited]);
      // What the kills leave behind: both locks, the database's socket.
      expect(existsSync(join(dataDir, 'muelle-metadata.lock'))).toBe(true);
      expect(existsSync(join(dataDir, 'run', '.s.PGSQL.5432'))).toBe(true);
    }
    expect(existsSync(join(dataDir, 'muelle-metadata.lock'))).toBe(false);
    expect(existsSync(join(dataDir, 'run', '.s.PGSQL.5432'))).toBe(false);
  }, 150_000);
});
