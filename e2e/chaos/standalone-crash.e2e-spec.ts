import { freePort, NATS_TEST_URL, serviceEntry, spawnNode, uniqueBusNamespace, waitReady, ServiceProcess } from '@muelle/testing';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PushedImage, pullsIdentical, pushImage, registryAuth } from './registry-push';

/**
 * Distributed mode: metadata (embedded PGlite), the registry (filesystem) and an agent (no
 * container runtime) as separate processes on NATS, sharing one data folder with a lock each.
 * Each round kills ONE of them with SIGKILL in the middle of pushes and restarts it: it must come
 * back ready without repair, and every push that completed must pull back byte-identical. A second
 * copy of a running service on the folder is refused with exit 3 naming the holder; SIGTERM exits 0.
 */
const SERVICES = ['metadata', 'registry', 'agent'] as const;
type Service = (typeof SERVICES)[number];
const PASSWORD = 'standalone-pw';

describe('standalone services: kill -9 of each in turn during pushes, restart on their data folder', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'muelle-standalone-crash-'));
  const processes: ServiceProcess[] = [];
  const running = new Map<Service, ServiceProcess>();
  const completed: PushedImage[] = [];
  let env: Record<string, string>;
  const urls = {} as Record<Service, string>;

  const start = (service: Service, extra: Record<string, string> = {}) => {
    const child = spawnNode(service, serviceEntry(service), { ...env, ...extra });
    processes.push(child);
    return child;
  };
  const readyTimes: string[] = [];
  const startMissing = async () => {
    const begun = Date.now();
    const started = SERVICES.filter((service) => !running.has(service));
    for (const service of started) running.set(service, start(service));
    for (const service of SERVICES) await waitReady(urls[service], 60_000);
    readyTimes.push(`${started.join('+')} ${Date.now() - begun} ms`);
  };

  beforeAll(async () => {
    const ports = { metadata: await freePort(), registry: await freePort(), agent: await freePort() };
    env = {
      NATS_URL: NATS_TEST_URL,
      // The shared test NATS has no users (as the other e2e files on it say).
      MUELLE_BUS_INSECURE: 'true',
      MUELLE_BUS_NAMESPACE: uniqueBusNamespace(),
      MUELLE_DATA_DIR: dataDir,
      MUELLE_ADMIN_PASSWORD: PASSWORD,
      MUELLE_METADATA_PORT: String(ports.metadata),
      MUELLE_REGISTRY_PORT: String(ports.registry),
      MUELLE_AGENT_PORT: String(ports.agent),
      MUELLE_RUNTIME: 'disabled',
      MUELLE_HOST_ID: 'standalone-crash',
      MUELLE_LOG_LEVEL: 'warn',
    };
    for (const service of SERVICES) urls[service] = `http://127.0.0.1:${ports[service]}`;
  });

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop('SIGKILL')));
  });

  it('comes back ready and consistent after each service is killed during pushes, and refuses a second copy', async () => {
    for (const [round, victim] of SERVICES.entries()) {
      await startMissing();
      // Pushes until one fails (the kill cut it, or the victim was needed); only completed ones count.
      let stop = false;
      let pushed!: () => void;
      const onePushed = new Promise<void>((resolve) => (pushed = resolve));
      const pushing = (async () => {
        for (let i = 0; !stop; i++) {
          const name = `standalone/r${round}`;
          await registryAuth(urls.registry, name, 'admin', PASSWORD)
            .then((auth) => pushImage(urls.registry, auth, name, `t${i}`, randomBytes(512 * 1024 + i)))
            .then((image) => (completed.push(image), pushed()))
            .catch(() => (stop = true));
        }
      })();
      // After the round's first push, at a random point of the next ones.
      await Promise.race([onePushed, pushing]);
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 800)));
      running.get(victim)!.child.kill('SIGKILL');
      await running.get(victim)!.exited;
      running.delete(victim);
      stop = true;
      await pushing;
      // What a kill leaves behind: the victim's lock (and metadata's database socket).
      expect(existsSync(join(dataDir, `muelle-${victim}.lock`))).toBe(true);
      if (victim === 'metadata') expect(existsSync(join(dataDir, 'run', '.s.PGSQL.5432'))).toBe(true);
    }
    await startMissing();
    process.stdout.write(`ready after: ${readyTimes.join(', ')}; ${completed.length} pushes completed\n`);
    expect(completed.length).toBeGreaterThan(0);
    for (const image of completed) expect(await pullsIdentical(urls.registry, await registryAuth(urls.registry, image.name, 'admin', PASSWORD), image)).toBe(true);

    const copy = start('registry', { MUELLE_REGISTRY_PORT: '0' });
    expect((await copy.exited).code).toBe(3);
    expect(copy.output()).toMatch(/is in use by another Muelle process \(pid \d+\)/);
    for (const service of SERVICES) await running.get(service)!.stop('SIGTERM');
    for (const service of SERVICES) expect(await running.get(service)!.exited).toEqual({ code: 0, signal: null });
    for (const service of SERVICES) expect(existsSync(join(dataDir, `muelle-${service}.lock`))).toBe(false);
    expect(existsSync(join(dataDir, 'run', '.s.PGSQL.5432'))).toBe(false);
  }, 150_000);
});
