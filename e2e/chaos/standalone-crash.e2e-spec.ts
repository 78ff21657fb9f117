import { basicAuth, eventually, freePort, NATS_TEST_URL, serviceEntry, spawnNode, uniqueBusNamespace, waitReady, ServiceProcess } from '@muelle/testing';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BuildOutcome, buildContext, buildRecords, builderScratch, heldBuild, postBuild, settledBuilds } from './builds';
import { PushedImage, pullsIdentical, pushImage, registryAuth } from './registry-push';

/**
 * Distributed mode: metadata (embedded PGlite), the registry (filesystem), the builder, the api
 * and an agent (no container runtime) as separate processes on NATS, sharing one data folder with
 * a lock each. Each round kills ONE of them with SIGKILL in the middle of pushes and builds
 * (`POST /v1/builds`) and restarts it: it must come back ready without repair, every push that
 * completed must pull back byte-identical, no build record stays `running`, the builder's scratch
 * space is empty and the same context builds again. When the builder is the victim, one more
 * build holds its context upload open at the kill: its client must be answered 503 within the
 * bus streams' silence limit (plus a keep-alive and slack), and its record must already say failed.
 * A second copy of a running service on the
 * folder is refused with exit 3 naming the holder; SIGTERM exits 0.
 */
const SERVICES = ['metadata', 'registry', 'builder', 'api', 'agent'] as const;
type Service = (typeof SERVICES)[number];
const PASSWORD = 'standalone-pw';
const KEEPALIVE_MS = 500;
const SILENCE_MS = 2000;

describe('standalone services: kill -9 of each in turn during pushes, restart on their data folder', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'muelle-standalone-crash-'));
  const processes: ServiceProcess[] = [];
  const running = new Map<Service, ServiceProcess>();
  const completed: PushedImage[] = [];
  const builds: BuildOutcome[] = [];
  const shared = randomBytes(512 * 1024 + 3);
  const admin = basicAuth('admin', PASSWORD);
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
    const timeoutMs = readyTimes.length ? 60_000 : 120_000; // the first start makes the database
    try {
      // Metadata alone first on the first start: the four others would only compete with its database setup for the CPU.
      if (!readyTimes.length) running.set('metadata', start('metadata'));
      if (!readyTimes.length) await waitReady(urls.metadata, timeoutMs);
      for (const service of started) if (!running.has(service)) running.set(service, start(service));
      for (const service of SERVICES) await waitReady(urls[service], timeoutMs);
    } catch (error) {
      const said = [...running].map(([service, child]) => `--- ${service} (exit ${child.child.exitCode}):\n${child.output().slice(-1500)}`).join('\n');
      throw new Error(`not ready after ${Date.now() - begun} ms (${String(error)}); the services said:\n${said}`);
    }
    readyTimes.push(`${started.join('+')} ${Date.now() - begun} ms`);
  };

  beforeAll(async () => {
    const ports = { metadata: await freePort(), registry: await freePort(), builder: await freePort(), api: await freePort(), agent: await freePort() };
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
      MUELLE_BUILDER_PORT: String(ports.builder),
      MUELLE_API_PORT: String(ports.api),
      MUELLE_REGISTRY_ADDRESS: `127.0.0.1:${ports.registry}`,
      // A build whose api died while sending the context fails after this, not after the default minute.
      MUELLE_BUILD_CONTEXT_IDLE_SECONDS: '3',
      // Bus streams notice a dead peer after this much silence (libs/bus stream-liveness.ts); shorter than the default 5 s to keep the suite short.
      MUELLE_STREAM_KEEPALIVE_MS: String(KEEPALIVE_MS),
      MUELLE_STREAM_SILENCE_MS: String(SILENCE_MS),
      MUELLE_RUNTIME: 'disabled',
      MUELLE_HOST_ID: 'standalone-crash',
      MUELLE_LOG_LEVEL: 'warn',
    };
    for (const service of SERVICES) urls[service] = `http://127.0.0.1:${ports[service]}`;
  });

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop('SIGKILL')));
  });

  /** A build the builder holds (its record says running) while its client keeps the upload open. */
  const holdBuild = async (round: number) => {
    const tag = `standalone/held${round}:1`;
    const build = heldBuild(urls.api, admin, tag, await buildContext(shared, `held ${round}`), 64 * 1024);
    const record = await eventually(async () => {
      const found = (await buildRecords(urls.api, admin)).find((r) => r.tags.some((t) => t.endsWith(tag)) && r.state === 'running');
      if (!found) throw new Error(`build ${tag} is not running yet`);
      return found;
    }, { timeoutMs: 20_000 });
    return { ...build, id: record.id };
  };
  const expectLostBuildAnswered = async (held: Awaited<ReturnType<typeof holdBuild>>, killedAt: number) => {
    const answer = await held.answer;
    const afterMs = answer.answeredAt - killedAt;
    held.abort();
    expect(answer.status).toBe(503);
    expect(answer.body.error).toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/^builder [a-f0-9]{16,64} stopped answering during the build$/) });
    process.stdout.write(`builder killed mid-build: its client was answered 503 after ${afterMs} ms (silence limit ${SILENCE_MS} ms)\n`);
    // Noticed on a keep-alive tick after the silence limit; the rest is slack for a loaded machine.
    expect(afterMs).toBeLessThan(SILENCE_MS + KEEPALIVE_MS + 2500);
    // Failed in metadata by the api, before any builder came back.
    await eventually(async () => {
      const record = (await buildRecords(urls.api, admin)).find((r) => r.id === held.id);
      if (record?.state !== 'failed') throw new Error(`record ${held.id} is ${record?.state}`);
      expect(record.error?.message).toBe(answer.body.error!.message);
    }, { timeoutMs: 5_000 });
  };

  it('comes back ready and consistent after each service is killed during pushes and builds, and refuses a second copy', async () => {
    for (const [round, victim] of SERVICES.entries()) {
      await startMissing();
      // Pushes and builds until one fails (the kill cut it, or the victim was needed); only completed ones count.
      let stop = false;
      let pushed!: () => void;
      let built!: () => void;
      const onePushed = new Promise<void>((resolve) => (pushed = resolve));
      const oneBuilt = new Promise<void>((resolve) => (built = resolve));
      const building = (async () => {
        for (let i = 0; !stop; i++) {
          const outcome = await postBuild(urls.api, admin, `standalone/b${round}:t${i}`, await buildContext(shared, `r${round} t${i}`));
          builds.push(outcome);
          if (!outcome.done) break;
          built();
        }
      })();
      const pushing = (async () => {
        for (let i = 0; !stop; i++) {
          const name = `standalone/r${round}`;
          await registryAuth(urls.registry, name, 'admin', PASSWORD)
            .then((auth) => pushImage(urls.registry, auth, name, `t${i}`, randomBytes(512 * 1024 + i)))
            .then((image) => (completed.push(image), pushed()))
            .catch(() => (stop = true));
        }
      })();
      // After the round's first push or build (both in the first round, so some build completes), at a random point of the next ones.
      const firstDone = round === 0 ? Promise.all([onePushed, oneBuilt]) : Promise.race([onePushed, oneBuilt]);
      await Promise.race([firstDone, pushing, building]);
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 800)));
      const held = victim === 'builder' ? await holdBuild(round) : undefined;
      const killedAt = Date.now();
      running.get(victim)!.child.kill('SIGKILL');
      await running.get(victim)!.exited;
      running.delete(victim);
      stop = true;
      await Promise.all([pushing, building]);
      if (held) await expectLostBuildAnswered(held, killedAt);
      process.stdout.write(`round ${round}: ${victim} killed, ${completed.length} pushes and ${builds.filter((b) => b.done).length} builds completed so far\n`);
      // What a kill leaves behind: the victim's lock (the api keeps nothing on disk, so holds none) and metadata's database socket.
      if (victim !== 'api') expect(existsSync(join(dataDir, `muelle-${victim}.lock`))).toBe(true);
      if (victim === 'metadata') expect(existsSync(join(dataDir, 'run', '.s.PGSQL.5432'))).toBe(true);
    }
    await startMissing();
    process.stdout.write(`ready after: ${readyTimes.join(', ')}; ${completed.length} pushes completed\n`);
    expect(completed.length).toBeGreaterThan(0);
    for (const image of completed) expect(await pullsIdentical(urls.registry, await registryAuth(urls.registry, image.name, 'admin', PASSWORD), image)).toBe(true);
    const records = await settledBuilds(urls.api, admin);
    expect(records.filter((r) => r.state === 'running')).toEqual([]);
    const byId = new Map(records.map((r) => [r.id, r]));
    const done = builds.filter((b) => b.done);
    expect(done.length).toBeGreaterThan(0);
    for (const build of done) expect(byId.get(build.done!.buildId)).toMatchObject({ state: 'succeeded', result: { digest: build.done!.digest } });
    process.stdout.write(`builds: ${done.length} completed, ${records.filter((r) => r.state === 'failed').length} recorded failed\n`);
    const cut = builds.find((b) => !b.done) ?? builds[0]!;
    expect((await postBuild(urls.api, admin, cut.tag, await buildContext(shared, cut.tag.replace(/^standalone\/b(\d+):/, 'r$1 ')))).done).toBeDefined();
    expect(builderScratch(dataDir)).toEqual([]);

    const copy = start('registry', { MUELLE_REGISTRY_PORT: '0' });
    expect((await copy.exited).code).toBe(3);
    expect(copy.output()).toMatch(/is in use by another Muelle process \(pid \d+\)/);
    for (const service of SERVICES) await running.get(service)!.stop('SIGTERM');
    for (const service of SERVICES) expect(await running.get(service)!.exited).toEqual({ code: 0, signal: null });
    for (const service of SERVICES) expect(existsSync(join(dataDir, `muelle-${service}.lock`))).toBe(false);
    expect(existsSync(join(dataDir, 'run', '.s.PGSQL.5432'))).toBe(false);
  }, 420_000);
});
