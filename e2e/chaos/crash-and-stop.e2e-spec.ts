import { basicAuth, serviceEntry, spawnNode, waitReady, ServiceProcess } from '@muelle/testing';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allInOneEnv } from './all-in-one-env';
import { BuildOutcome, buildContext, builderScratch, postBuild, settledBuilds } from './builds';
import { PushedImage, pullsIdentical, pushImage, registryAuth } from './registry-push';

/**
 * The embedded all-in-one (PGlite, blobs on disk, no container runtime) killed with SIGKILL at
 * random points while images are pushed and built (`POST /v1/builds`), restarted each time: it
 * must come back ready with no hand repair, every push that completed must pull back
 * byte-identical, no build record stays `running`, the builder's scratch space is empty and the
 * same context builds again. Then a SIGTERM with an event stream and a slow upload open must end
 * both and exit 0 within the stop bound.
 */
const PASSWORD = 'chaos-pw';
/**
 * Kills in a row: ten, as the issue asks. A round costs one restart (module loading and opening
 * PGlite, which overlap since the all-in-one opens the database before loading the services) plus a
 * push; MUELLE_CHAOS_ROUNDS sets another count (fewer for a quick local run, more for a long series).
 */
const ROUNDS = Number(process.env.MUELLE_CHAOS_ROUNDS ?? 10);

describe('all-in-one: kill -9 at random points, restart, graceful stop', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'muelle-chaos-'));
  let env: Record<string, string>;
  let api = '';
  let registry = '';
  let platform: ServiceProcess | undefined;
  const completed: PushedImage[] = [];
  const builds: BuildOutcome[] = [];
  const readyTimes: number[] = [];
  const shared = randomBytes(1024 * 1024 + 7);
  const admin = basicAuth('admin', PASSWORD);

  const start = async () => {
    const begun = Date.now();
    platform = spawnNode('all-in-one', serviceEntry('all-in-one'), env);
    try {
      // The first start makes the database (a minute on a loaded machine); restarts are the measure.
      await waitReady(api, readyTimes.length ? 60_000 : 120_000);
      await waitReady(registry, 30_000);
    } catch (error) {
      throw new Error(`not ready after ${Date.now() - begun} ms (${String(error)}); the platform said:\n${platform.output().slice(-4000)}`);
    }
    readyTimes.push(Date.now() - begun);
  };

  const token = (name: string) => registryAuth(registry, name, 'admin', PASSWORD);

  /** Records an image only once its manifest is accepted. */
  const push = async (name: string, tag: string) => completed.push(await pushImage(registry, await token(name), name, tag, randomBytes(3 * 1024 * 1024 + 11)));

  beforeAll(async () => {
    const target = await allInOneEnv(dataDir, PASSWORD, 'chaos', { MUELLE_RUNTIME: 'disabled' });
    env = target.env;
    api = target.api;
    registry = target.registry;
  });

  afterAll(async () => {
    await platform?.stop('SIGKILL');
  });

  it(`comes back ready and consistent after ${ROUNDS} kills in the middle of pushes and builds`, async () => {
    const roundTimes: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const begun = Date.now();
      await start();
      // Pushes and builds in loops until the kill cuts them somewhere (upload, commit, manifest;
      // context upload, steps, the build's own push).
      let stop = false;
      let pushed!: () => void;
      let built!: () => void;
      const onePushed = new Promise<void>((resolve) => (pushed = resolve));
      const oneBuilt = new Promise<void>((resolve) => (built = resolve));
      const pushing = (async () => {
        for (let i = 0; !stop; i++) await push(`chaos/r${round}`, `t${i}`).then(pushed, () => (stop = true));
      })();
      const building = (async () => {
        for (let i = 0; !stop; i++) {
          const outcome = await postBuild(api, admin, `chaos/b${round}:t${i}`, await buildContext(shared, `r${round} t${i}`));
          builds.push(outcome);
          if (!outcome.done) break;
          built();
        }
      })();
      // After the round's first push or build (both in the first round, so some build completes), at a
      // random point of the next ones: a round costs no more than with pushes alone.
      const firstDone = round === 0 ? Promise.all([onePushed, oneBuilt]) : Promise.race([onePushed, oneBuilt]);
      await Promise.race([firstDone, pushing, building]);
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 1_000)));
      platform!.child.kill('SIGKILL');
      await platform!.exited;
      stop = true;
      await Promise.all([pushing, building]);
      roundTimes.push(Date.now() - begun);
    }
    await start();
    process.stdout.write(`restarts ready after (ms): ${readyTimes.join(' ')}\nrounds took (ms): ${roundTimes.join(' ')}\n`);
    expect(completed.length).toBeGreaterThan(0);
    for (const image of completed) expect(await pullsIdentical(registry, await token(image.name), image)).toBe(true);
    // Nothing a crash leaves stays: the socket of the embedded database is the new process's, the
    // blob staging folder and the upload files of cut pushes are swept at start.
    expect(readdirSync(join(dataDir, 'registry', '.tmp'))).toEqual([]);

    // Builds: none stuck `running`; each one the client saw complete is recorded succeeded with its
    // digest, and its tag serves that image; the builder's context spools and work dirs are gone.
    const records = await settledBuilds(api, admin);
    expect(records.filter((r) => r.state === 'running')).toEqual([]);
    const byId = new Map(records.map((r) => [r.id, r]));
    const done = builds.filter((b) => b.done);
    expect(done.length).toBeGreaterThan(0);
    for (const build of done) {
      expect(byId.get(build.done!.buildId)).toMatchObject({ state: 'succeeded', result: { digest: build.done!.digest } });
      const [name, tag] = build.tag.split(':');
      const manifest = await fetch(`${registry}/v2/${name}/manifests/${tag}`, { method: 'HEAD', headers: { ...(await token(name!)), accept: 'application/vnd.oci.image.manifest.v1+json' } });
      expect(manifest.headers.get('docker-content-digest')).toBe(build.done!.digest);
    }
    const interrupted = records.filter((r) => r.state === 'failed');
    for (const record of interrupted) expect(record.error?.message).toBe('the builder stopped while this build was running');
    process.stdout.write(`builds: ${done.length} completed, ${interrupted.length} interrupted and recorded failed\n`);
    expect(builderScratch(dataDir)).toEqual([]);
    // The context of a build that a kill cut builds again, to the same image as before when it had completed once.
    const cut = builds.find((b) => !b.done) ?? builds[0]!;
    const again = await postBuild(api, admin, cut.tag, await buildContext(shared, cut.tag.replace(/^chaos\/b(\d+):/, 'r$1 ')));
    expect(again.done).toBeDefined();
    expect(builderScratch(dataDir)).toEqual([]);
    // `system prune` names a host that cannot prune (no container runtime here) instead of failing; a long grace keeps every image.
    const prune = await fetch(`${api}/v1/system/prune`, { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body: '{"graceSeconds":3600}' });
    expect(prune.status).toBe(200);
    expect(await prune.json()).toMatchObject({ containers: { removed: [] }, hosts: [{ hostId: 'chaos', skipped: 'containers are unavailable on host chaos: MUELLE_RUNTIME=disabled' }], registry: { deletedManifests: 0 } });
  }, 120_000 + ROUNDS * 45_000);

  it('SIGTERM with an event stream and a slow upload open: both end, the upload completes, exit 0 within the bound', async () => {
    const name = 'chaos/stop';
    const auth = await token(name);
    const events = new Promise<{ status: number; ended: boolean }>((resolve) => {
      request(`${api}/v1/events`, { headers: basicAuth('admin', PASSWORD) }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ended: res.complete }));
        res.on('error', () => resolve({ status: res.statusCode ?? 0, ended: false }));
      }).end();
    });
    const started = await fetch(`${registry}/v2/${name}/blobs/uploads/`, { method: 'POST', headers: auth });
    const blob = randomBytes(512 * 1024);
    const upload = new Promise<number>((resolve, reject) => {
      const req = request(new URL(started.headers.get('location')!, registry), {
        method: 'PATCH',
        headers: { ...auth, 'content-type': 'application/octet-stream', 'content-length': String(blob.length) },
      });
      req.on('response', (res) => (res.resume(), resolve(res.statusCode ?? 0)));
      req.on('error', reject);
      // Half now, half 1.5 s after the stop began: a slow upload that finishes well inside the bound.
      req.write(blob.subarray(0, blob.length / 2));
      setTimeout(() => req.end(blob.subarray(blob.length / 2)), 2_000);
    });
    await new Promise((r) => setTimeout(r, 500));
    const stopAt = Date.now();
    platform!.child.kill('SIGTERM');
    const exit = await platform!.exited;
    const tookMs = Date.now() - stopAt;
    process.stdout.write(`graceful stop with a stream and a slow upload open: ${tookMs} ms\n`);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(tookMs).toBeLessThan(10_000);
    expect(await events).toEqual({ status: 200, ended: true });
    expect(await upload).toBe(202);
    // A clean stop leaves nothing for the next start to repair.
    expect(existsSync(join(dataDir, 'muelle.lock'))).toBe(false);
    expect(existsSync(join(dataDir, 'run', '.s.PGSQL.5432'))).toBe(false);
  }, 60_000);
});
