import { basicAuth, getJson, serviceEntry, spawnNode, waitReady, ServiceProcess } from '@muelle/testing';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { allInOneEnv } from './all-in-one-env';

/**
 * The all-in-one with a real container runtime (run under flock /tmp/muelle-kernel.lock): killed
 * with SIGKILL while containers are being created and started, restarted each time. It must come
 * back ready; every container it knows is running or has exited with a code (none stuck in
 * between), and new containers start. Then SIGTERM with `logs -f` open ends the stream and exits 0.
 */
const PASSWORD = 'chaos-ct-pw';
const ROUNDS = 3;
const REPO = resolve(__dirname, '..', '..');
const auth = basicAuth('admin', PASSWORD);

describe('all-in-one with containers: kill -9 during starts, restart, stop with logs -f open', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'muelle-chaos-ct-'));
  let env: Record<string, string>;
  let api = '';
  let registryHost = '';
  let platform: ServiceProcess | undefined;

  const start = async () => {
    platform = spawnNode('all-in-one', serviceEntry('all-in-one'), env);
    await waitReady(api, 60_000);
  };
  const create = (name: string, command: string[]) =>
    fetch(`${api}/v1/containers`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ name, image: `${registryHost}/busybox:latest`, command, start: true }),
    });
  const list = async () => ((await getJson(`${api}/v1/containers?all=true`, { headers: auth })).body.items ?? []) as { name: string; state: string; exitCode: number | null }[];

  beforeAll(async () => {
    const platform = await allInOneEnv(dataDir, PASSWORD, 'chaos-ct', { MUELLE_BRIDGE_NAME: 'muelle-chaos0', MUELLE_BRIDGE_SUBNET: '10.89.92.0/24' });
    env = platform.env;
    api = platform.api;
    registryHost = new URL(platform.registry).host;
    await start();
    const layout = mkdtempSync(join(tmpdir(), 'chaos-layout-'));
    execFileSync('node', [join(REPO, 'tools/images/make-oci-layout.mjs'), layout, '--busybox', '--tag', 'latest'], { stdio: 'pipe' });
    execFileSync('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', '--dest-creds', `admin:${PASSWORD}`, `oci:${layout}:latest`, `docker://${registryHost}/busybox:latest`], { stdio: 'pipe' });
  }, 120_000);

  afterAll(async () => {
    if (platform && platform.child.exitCode === null) {
      for (const c of await list().catch(() => [])) await fetch(`${api}/v1/containers/${c.name}?force=true`, { method: 'DELETE', headers: auth }).catch(() => undefined);
      await platform.stop();
    } else {
      // Stopped by the last test: start once more to remove what the rounds left running.
      await start();
      for (const c of await list()) await fetch(`${api}/v1/containers/${c.name}?force=true`, { method: 'DELETE', headers: auth });
      await platform?.stop();
    }
    execFileSync('ip', ['link', 'del', 'muelle-chaos0'], { stdio: 'ignore' });
  }, 90_000);

  it(`comes back ready and consistent after ${ROUNDS} kills during container starts`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const creating = [0, 1, 2].map((i) => create(`r${round}-${i}`, ['sleep', '300']).catch(() => undefined));
      await new Promise((r) => setTimeout(r, 100 + Math.floor(Math.random() * 700)));
      platform!.child.kill('SIGKILL');
      await platform!.exited;
      await Promise.all(creating);
      await start();
    }
    // Consistent: nothing stuck half-way once the agent has re-adopted what it had.
    const settled = async () => {
      for (let i = 0; i < 50; i++) {
        const containers = await list();
        if (containers.every((c) => ['running', 'exited', 'created', 'dead'].includes(c.state))) return containers;
        await new Promise((r) => setTimeout(r, 200));
      }
      return list();
    };
    const containers = await settled();
    for (const c of containers) {
      expect(['running', 'exited', 'created', 'dead']).toContain(c.state);
      if (c.state === 'exited') expect(typeof c.exitCode).toBe('number');
    }
    // And it still runs containers.
    const fresh = await create('after-crashes', ['sleep', '300']);
    expect(fresh.status).toBe(201);
    expect(((await fresh.json()) as { state: string }).state).toBe('running');
  }, 180_000);

  it('kill -9 while a container prints: after the restart its log has every line and its exit code and times are its own', async () => {
    const script = 'i=0; while [ $i -lt 60 ]; do echo "line $i"; i=$((i+1)); sleep 0.05; done; exit 7';
    const created = await create('printer', ['sh', '-c', script]);
    expect(created.status).toBe(201);
    const body = (await created.json()) as { id: string; runtime: { startedAt: string } };
    const { id } = body;
    const startedAt = body.runtime.startedAt;
    platform!.child.kill('SIGKILL');
    await platform!.exited;
    // The container goes on without the platform; its helper writes the exit record when it ends.
    const exitRecord = join(dataDir, 'containers', id, 'exit');
    for (const deadline = Date.now() + 15_000; !existsSync(exitRecord) && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(exitRecord)).toBe(true);
    const restartedAt = Date.now();
    await start();
    const view = async () => (await getJson(`${api}/v1/containers/printer`, { headers: auth })).body as { state: string; exitCode: number; startedAt: string; finishedAt: string };
    // The first request after a restart pays a production-cost password check (the credential cache
    // starts empty): on a loaded machine it may pass getJson's 5 s, so a timeout is asked again.
    const viewOrNone = () => view().catch(() => ({ state: 'no answer yet' }));
    for (let i = 0; i < 50 && (await viewOrNone()).state !== 'exited'; i++) await new Promise((r) => setTimeout(r, 200));
    const exited = await view();
    expect(exited).toMatchObject({ state: 'exited', exitCode: 7 });
    expect(Math.abs(Date.parse(exited.startedAt) - Date.parse(startedAt))).toBeLessThan(1_000);
    expect(Date.parse(exited.finishedAt)).toBeLessThan(restartedAt);
    expect(Date.parse(exited.finishedAt) - Date.parse(exited.startedAt)).toBeGreaterThanOrEqual(2_500);
    const ndjson = await fetch(`${api}/v1/containers/printer/logs`, { headers: auth }).then((r) => r.text());
    const logs = ndjson.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { data: string }).data).join('');
    expect(logs).toBe(Array.from({ length: 60 }, (_, i) => `line ${i}\n`).join(''));
  }, 90_000);

  it('SIGTERM with `logs -f` open: the stream ends cleanly and the process exits 0 within the bound', async () => {
    expect((await create('talker', ['sh', '-c', 'while :; do echo hi; sleep 0.2; done'])).status).toBe(201);
    let streaming!: () => void;
    const firstLine = new Promise<void>((resolve) => (streaming = resolve));
    const follow = new Promise<{ status: number; complete: boolean; lines: number }>((resolveFollow) => {
      request(`${api}/v1/containers/talker/logs?follow=true`, { headers: auth }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => ((text += chunk), streaming()));
        res.on('end', () => resolveFollow({ status: res.statusCode ?? 0, complete: res.complete, lines: text.split('\n').filter(Boolean).length }));
        res.on('error', () => resolveFollow({ status: res.statusCode ?? 0, complete: false, lines: 0 }));
      }).end();
    });
    // Stopped once the stream is live (it printed), not after a fixed wait; a stream that never starts fails on its end below.
    await Promise.race([firstLine, follow, new Promise((r) => setTimeout(r, 10_000))]);
    const stopAt = Date.now();
    platform!.child.kill('SIGTERM');
    expect(await platform!.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - stopAt).toBeLessThan(10_000);
    const followed = await follow;
    expect(followed).toMatchObject({ status: 200, complete: true });
    expect(followed.lines).toBeGreaterThan(0);
  }, 60_000);
});
