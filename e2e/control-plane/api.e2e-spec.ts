import { eventually, getJson } from '@muelle/testing';
import { WebSocket } from 'ws';
import { connect } from 'node:net';
import { adminAuth, logsOf, Platform, startPlatform } from './platform';
import { startSimulatedHosts } from './simulated-hosts';

/** Bus streams' silence limit on this platform (shorter than the default 5 s, to keep the suite short). */
const SILENCE_MS = 2000;

/** A Docker API hijacked connection (attach): the raw stream after the 101 answer, as text so far. */
function hijack(base: string, path: string, headers: Record<string, string>): Promise<{ output: () => string; close: () => void }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    let received = '';
    socket.setEncoding('utf8');
    socket.on('error', reject);
    socket.on('data', (chunk: string) => {
      received += chunk;
      if (/^HTTP\/1\.1 101/.test(received) && received.includes('\r\n\r\n')) resolve({ output: () => received.slice(received.indexOf('\r\n\r\n') + 4), close: () => socket.destroy() });
      else if (received.includes('\r\n\r\n') && !/^HTTP\/1\.1 101/.test(received)) reject(new Error(`attach: ${received.slice(0, 300)}`));
    });
    const lines = [`POST ${path} HTTP/1.1`, `Host: ${url.host}`, 'Connection: Upgrade', 'Upgrade: tcp', 'Content-Length: 0', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  });
}

const json = (body: unknown) => ({ method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

/**
 * The /v1 API's contract: validation, errors, tenancy, audit, events, logs, stats, drain, OpenAPI;
 * and two api replicas on one bus and database behaving as one (placement, events, --rm).
 */
describe('control plane HTTP API', () => {
  let platform: Platform;
  let api: string;
  let image: string;
  const as =
    (auth: Record<string, string>) =>
    (path: string, init: RequestInit = {}) =>
      getJson(`${api}${path}`, { ...init, headers: { ...auth, ...(init.headers as Record<string, string>) } });
  const admin = (path: string, init: RequestInit = {}) => as(adminAuth)(path, init);
  let alpha: ReturnType<typeof as>;
  let beta: ReturnType<typeof as>;

  beforeAll(async () => {
    platform = await startPlatform({ agents: [{ hostId: 'api-a' }], apiReplicas: 2, env: { MUELLE_STREAM_KEEPALIVE_MS: '500', MUELLE_STREAM_SILENCE_MS: String(SILENCE_MS) } });
    api = platform.api;
    // A copy is idempotent: asked again when the first answer outlasts getJson's 5 s on a loaded machine.
    await eventually(async () => {
      const pulled = await admin('/v1/images/pull', json({ image: `${platform.other.host}/library/busybox:1`, as: 'alpha/busybox:1' }));
      if (pulled.status !== 200) throw new Error(`pull: ${pulled.status} ${JSON.stringify(pulled.body)}`);
    }, { timeoutMs: 60_000 });
    image = 'alpha/busybox:1';
    const teamA = (await admin('/v1/teams', json({ name: 'alpha' }))).body;
    const teamB = (await admin('/v1/teams', json({ name: 'beta' }))).body;
    for (const [user, team] of [
      ['ana', teamA.id],
      ['bob', teamB.id],
    ]) {
      // Hashing a password can outlast getJson's 5 s on a loaded machine: ask again (409: the first one went through).
      await eventually(async () => {
        const created = await admin('/v1/users', json({ username: user, password: 'password-123', teamId: team }));
        if (created.status !== 201 && created.status !== 409) throw new Error(`user ${user}: ${created.status} ${JSON.stringify(created.body)}`);
      }, { timeoutMs: 60_000 });
    }
    const basic = (u: string) => ({ authorization: `Basic ${Buffer.from(`${u}:password-123`).toString('base64')}` });
    alpha = as(basic('ana'));
    beta = as(basic('bob'));
  }, 120_000);

  afterAll(async () => {
    await platform?.stop();
  });

  it('names the offending field in a 400', async () => {
    const bad = await admin('/v1/containers', json({ image: 'x', ports: [{ hostPort: 70000, containerPort: 80 }] }));
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'body.ports.0.hostPort' } });
    expect(bad.body.error.message).toMatch(/^body\.ports\.0\.hostPort: /);
    const query = await admin('/v1/containers?limit=0');
    expect(query.status).toBe(400);
    expect(query.body.error.details.field).toBe('query.limit');
  });

  it('answers 404 with a clear message for missing containers, images and hosts', async () => {
    expect(await admin('/v1/containers/does-not-exist')).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND', message: 'no such container: does-not-exist' } } });
    expect((await admin('/v1/hosts/nowhere')).status).toBe(404);
    expect((await admin(`/v1/images/inspect?image=alpha/nothing:1`)).status).toBe(404);
  });

  it("keeps teams apart: another team's container is 404, its images hidden, admin actions 403", async () => {
    const created = await alpha('/v1/containers', json({ image, name: 'alpha-box', command: ['sleep', '600'], start: true }));
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'alpha-box', hostId: 'api-a', state: 'running' });
    expect((await beta('/v1/containers/alpha-box')).status).toBe(404);
    expect((await beta('/v1/containers/alpha-box/stop', { method: 'POST' })).status).toBe(404);
    expect((await beta('/v1/containers?all=true')).body.items).toEqual([]);
    expect((await alpha('/v1/containers')).body.items.map((c: { name: string }) => c.name)).toEqual(['alpha-box']);
    expect((await beta('/v1/images?hosts=false')).body.items).toEqual([]);
    expect((await beta(`/v1/images/inspect?image=${image}`)).status).toBe(404);
    expect((await alpha('/v1/images?hosts=false')).body.items.map((i: { repository: string }) => i.repository)).toEqual(['alpha/busybox']);
    const foreignTag = await beta('/v1/images/tag', json({ source: image, target: 'beta/stolen:1' }));
    expect(foreignTag.status).toBe(404);
    const cordon = await beta('/v1/hosts/api-a/cordon', { method: 'POST' });
    expect(cordon.status).toBe(403);
    expect(cordon.body.error.code).toBe('PERMISSION_DENIED');
    expect((await beta('/v1/audit')).status).toBe(403);
  }, 60_000);

  it('streams logs, answers stats and writes every change to the audit log', async () => {
    const created = await alpha(
      '/v1/containers',
      json({ image, name: 'talker', command: ['sh', '-c', 'for i in 1 2 3; do echo line-$i; done; echo oops >&2; sleep 600'], start: true }),
    );
    expect(created.status).toBe(201);
    const lines = await eventually(async () => {
      const text = (await alpha('/v1/containers/talker/logs')).body as string;
      if (!String(text).includes('oops')) throw new Error(`logs so far: ${text}`);
      return String(text)
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
    });
    expect(lines).toEqual(
      expect.arrayContaining([
        { stream: 'stdout', data: 'line-1\n' },
        { stream: 'stdout', data: 'line-3\n' },
        { stream: 'stderr', data: 'oops\n' },
      ]),
    );
    const tail = String((await alpha('/v1/containers/talker/logs?tail=1')).body)
      .trim()
      .split('\n');
    expect(tail).toHaveLength(1);
    const stats = await alpha('/v1/containers/talker/stats');
    expect(stats.status).toBe(200);
    expect(stats.body).toMatchObject({ memoryUsageBytes: expect.any(Number), cpuPercent: expect.any(Number), pidsCurrent: expect.any(Number) });
    const audit = await admin('/v1/audit?actor=ana');
    const actions = audit.body.items.map((e: { action: string }) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['container.create', 'container.start']));
    expect(audit.body.items[0]).toMatchObject({ actor: 'ana', at: expect.any(String), target: expect.stringMatching(/^container:[a-f0-9]{64}$/) });
  }, 60_000);

  it('sends container events over SSE to the owning team only, from every api replica', async () => {
    const received: string[] = [];
    const onSecondReplica: string[] = [];
    const controller = new AbortController();
    const open = async (auth: Record<string, string>, sink: string[], base = api) => {
      const response = await fetch(`${base}/v1/events?type=container`, { headers: auth, signal: controller.signal });
      expect(response.headers.get('content-type')).toMatch(/text\/event-stream/);
      void (async () => {
        const decoder = new TextDecoder();
        try {
          for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) sink.push(decoder.decode(chunk));
        } catch {
          // aborted at the end of the test
        }
      })();
    };
    const betaSeen: string[] = [];
    await open({ authorization: `Basic ${Buffer.from('ana:password-123').toString('base64')}` }, received);
    await open({ authorization: `Basic ${Buffer.from('ana:password-123').toString('base64')}` }, onSecondReplica, platform.apis[1]);
    await open({ authorization: `Basic ${Buffer.from('bob:password-123').toString('base64')}` }, betaSeen, platform.apis[1]);
    await alpha('/v1/containers', json({ image, name: 'evented', command: ['true'], start: true }));
    try {
      for (const sink of [received, onSecondReplica]) {
        await eventually(async () => {
          const text = sink.join('');
          if (!/"action":"create"[^\n]*"name":"evented"/.test(text) || !/"action":"die"/.test(text)) throw new Error(text);
        });
      }
      // The same events on both replicas, each once, whichever replica saw it happen (the api's
      // `create` and the agent's report of it are two events).
      const evented = (sink: string[]) => (sink.join('').match(/^data: .*"name":"evented".*$/gm) ?? []).map((line) => JSON.parse(line.slice(6))).map((e) => `${e.action}@${e.at}`);
      await eventually(async () => expect(evented(onSecondReplica).sort()).toEqual(evented(received).sort()));
      expect(new Set(evented(received)).size).toBe(evented(received).length);
      expect(betaSeen.join('')).not.toContain('evented');
    } finally {
      controller.abort();
    }
  }, 60_000);

  it('forgets an --rm container created through one replica, whichever replica is asked', async () => {
    const created = await alpha('/v1/containers', json({ image, name: 'across', autoRemove: true, command: ['true'], start: true }));
    expect(created.status).toBe(201);
    // Its agent removed it when it exited; the one replica that got the report removed the record.
    for (const base of platform.apis) {
      await eventually(async () => {
        const status = (await getJson(`${base}/v1/containers/across`, { headers: { authorization: `Basic ${Buffer.from('ana:password-123').toString('base64')}` } })).status;
        if (status !== 404) throw new Error(`still there (${status})`);
      });
    }
  }, 60_000);

  it('runs a Docker `run --rm -t` whose attach and wait reach one replica and whose start and resizes reach the other', async () => {
    const [one, other] = platform.apis;
    const auth = { authorization: `Basic ${Buffer.from('ana:password-123').toString('base64')}` };
    const docker = (base: string, path: string, body?: unknown) =>
      fetch(`${base}/v1.43${path}`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
    const created = await docker(one, '/containers/create?name=two-replicas', {
      Image: image,
      Tty: true,
      OpenStdin: true,
      AttachStdin: true,
      AttachStdout: true,
      Cmd: ['sh', '-c', 'for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do stty size; sleep 0.2; done'],
      HostConfig: { AutoRemove: true },
    });
    expect(created.status).toBe(201);
    const { Id: id } = (await created.json()) as { Id: string };
    const attach = await hijack(one, `/v1.43/containers/${id}/attach?stream=1&stdin=1&stdout=1&stderr=1`, auth);
    const waited = docker(one, `/containers/${id}/wait?condition=removed`);
    try {
      expect((await docker(other, `/containers/${id}/start`)).status).toBe(204);
      // The terminal session lives on the first replica; each resize is sent to the other one.
      for (let i = 0; i < 15 && !attach.output().includes('33 77'); i++) {
        expect((await docker(other, `/containers/${id}/resize?h=33&w=77`)).status).toBe(200);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(attach.output()).toContain('33 77');
      const result = await waited;
      expect(result.status).toBe(200);
      expect(await result.json()).toMatchObject({ StatusCode: 0 });
      expect((await fetch(`${other}/v1.43/containers/${id}/json`, { headers: auth })).status).toBe(404);
    } finally {
      attach.close();
    }
  }, 30_000);

  it('drains a host: cordons it and reports what stays (one host: nothing can move)', async () => {
    await alpha('/v1/containers', json({ image, name: 'restartable', command: ['sleep', '600'], restartPolicy: { name: 'always' }, start: true }));
    const drained = await admin('/v1/hosts/api-a/drain', { method: 'POST' });
    expect(drained.status).toBe(201);
    expect(drained.body.moved).toEqual([]);
    expect(drained.body.stayed).toEqual(expect.arrayContaining([{ id: expect.any(String), name: 'restartable', reason: 'no other host fits' }]));
    expect((await admin('/v1/hosts/api-a')).body).toMatchObject({ cordoned: true });
    const refused = await alpha('/v1/containers', json({ image, command: ['true'] }));
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toMatch(/api-a: host is cordoned/);
    await admin('/v1/hosts/api-a/uncordon', { method: 'POST' });
  }, 60_000);

  it('describes itself with OpenAPI generated from the validating schemas, and a docs page', async () => {
    const doc = (await getJson(`${api}/openapi.json`)).body;
    expect(doc.openapi).toBe('3.0.3');
    const create = doc.paths['/v1/containers'].post;
    expect(create.requestBody.content['application/json'].schema.properties.restartPolicy).toBeDefined();
    expect(create.requestBody.content['application/json'].schema.required).toEqual(['image']);
    expect(doc.paths['/v1/containers'].get.parameters.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['all', 'limit', 'cursor', 'label']));
    const page = await fetch(`${api}/docs`);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toContain('/v1/containers/{ref}/exec/{execId}/ws');
  });

  it('places 200 concurrent creates through two api replicas once each, within every host, and both stream every event', async () => {
    // Five hosts of 1 GiB answering the real bus (no kernel work); 32 MiB each: 160 fit, 40 must be refused.
    const sim = await startSimulatedHosts(
      platform.busEnv,
      ['sim-1', 'sim-2', 'sim-3', 'sim-4', 'sim-5'].map((id) => ({ id, cpus: 4, memoryBytes: 1 << 30, labels: { pool: 'sim' } })),
    );
    const controller = new AbortController();
    try {
      const token = (await admin('/v1/auth/tokens', json({ name: 'replicas' }))).body.token as string;
      const bearer = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
      const streams = await Promise.all(
        platform.apis.map(async (base) => {
          const response = await fetch(`${base}/v1/events?type=container`, { headers: bearer, signal: controller.signal });
          const sink: string[] = [];
          void (async () => {
            const decoder = new TextDecoder();
            try {
              for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) sink.push(decoder.decode(chunk, { stream: true }));
            } catch {
              // aborted at the end of the test
            }
          })();
          return sink;
        }),
      );
      const body = JSON.stringify({ image, command: ['true'], resources: { memoryBytes: 32 << 20 }, placement: { constraints: { pool: 'sim' } }, labels: { 'e2e.replicas': 'yes' } });
      const answers = await Promise.all(
        Array.from({ length: 200 }, (_, i) => fetch(`${platform.apis[i % 2]}/v1/containers`, { method: 'POST', headers: bearer, body }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }))),
      );
      const placed = answers.filter((a) => a.status === 201);
      const refused = answers.filter((a) => a.status === 409);
      if (placed.length + refused.length !== 200) throw new Error(JSON.stringify(answers.filter((a) => a.status !== 201 && a.status !== 409).slice(0, 3)));
      expect(placed).toHaveLength(160);
      for (const r of refused) expect(r.body.error.message).toMatch(/sim-1: not enough unreserved memory/);
      // Each placed once: one create per container reached a host, on the host its record names.
      // (Containers the reconcilers move onto a simulated host are not ours.)
      const ours = sim.creates.filter((c) => c.labels['e2e.replicas'] === 'yes');
      expect(new Set(ours.map((c) => c.id)).size).toBe(ours.length);
      expect(ours.map((c) => `${c.id}@${c.hostId}`).sort()).toEqual(placed.map((p) => `${p.body.id}@${p.body.hostId}`).sort());
      const perHost = new Map<string, number>();
      for (const c of ours) perHost.set(c.hostId, (perHost.get(c.hostId) ?? 0) + c.memoryBytes);
      for (const [host, reserved] of perHost) expect([host, reserved]).toEqual([host, 1 << 30]);
      // What metadata records agrees, whichever replica is asked.
      for (const base of platform.apis) {
        const listed = await getJson(`${base}/v1/containers?all=true&label=e2e.replicas=yes&limit=1000`, { headers: bearer });
        expect(listed.body.items).toHaveLength(160);
      }
      // Every replica streamed every create, once.
      for (const sink of streams) {
        await eventually(async () => {
          const creates = sink.join('').match(/"action":"create"/g) ?? [];
          if (creates.length < 160) throw new Error(`${creates.length} create events`);
        });
        for (const p of placed) expect(sink.join('').split(`"id":"${p.body.id}"`)).toHaveLength(2);
      }
      // The scheduler's decisions, summed over both replicas' /metrics.
      const counted = async (line: RegExp) => {
        let sum = 0;
        for (const base of platform.apis) for (const m of (await (await fetch(`${base}/metrics`)).text()).matchAll(line)) sum += Number(m[1]);
        return sum;
      };
      expect(await counted(/^muelle_scheduler_decisions_total\{result="placed"[^}]*\} (\d+)$/gm)).toBeGreaterThanOrEqual(160);
      expect(await counted(/^muelle_scheduler_refusals_total\{reason="memory"[^}]*\} (\d+)$/gm)).toBe(40);
    } finally {
      controller.abort();
      await sim.stop();
    }
  }, 60_000);

  it("lets an exec's process run on when the api serving it is killed (the agent notices the silence and drains its output)", async () => {
    // In alpha-box: a busy writer feeds `cat`, whose output goes to a client that reads nothing, so
    // once the window and socket buffers are full, `cat` blocks on its stdout and the writer on the pipe.
    const t0 = Date.now();
    const replica = platform.apis[1]!;
    const exec = await getJson(`${replica}/v1/containers/alpha-box/exec`, { ...json({ cmd: ['sh', '-c', `head -c ${32 << 20} /dev/zero | cat`] }), headers: { ...adminAuth, 'content-type': 'application/json' } });
    expect(exec.status).toBe(201);
    const execId = exec.body.id as string;
    const socket = new WebSocket(`${replica.replace(/^http/, 'ws')}/v1/containers/alpha-box/exec/${execId}/ws`, { headers: adminAuth });
    await new Promise<void>((resolve, reject) => (socket.once('open', () => resolve()), socket.once('error', reject)));
    socket.pause();
    socket.on('error', () => undefined); // the api is killed under it
    const inspect = async () => (await admin(`/v1/containers/alpha-box/exec/${execId}`)).body as { running: boolean; exitCode: number | null };
    // Still at it when its api dies (without liveness it would stay blocked for good: nobody grants its window back).
    await eventually(async () => expect(await inspect()).toMatchObject({ running: true, exitCode: null }), { timeoutMs: 10_000 });
    const startedMs = Date.now() - t0;
    const killedAt = Date.now();
    platform.processes.find((p) => p.name === 'api-1')!.child.kill('SIGKILL');
    const done = await eventually(async () => {
      const state = await inspect();
      if (state.running) throw new Error('the exec is still blocked');
      return state;
    }, { timeoutMs: 15_000, intervalMs: 100 });
    const afterMs = Date.now() - killedAt;
    process.stdout.write(`api killed during an exec: its process finished its 32 MiB ${afterMs} ms after the kill (silence limit ${SILENCE_MS} ms; exec running ${startedMs} ms after its create)\n`);
    // The writer finished and `cat` passed it all on: exit 0, not a kill.
    expect(done.exitCode).toBe(0);
    expect(afterMs).toBeLessThan(SILENCE_MS + 500 + 4000);
    socket.terminate();
  }, 30_000);

  it('keeps serving reads while the only agent is down', async () => {
    await platform.agents.get('api-a')!.stop('SIGKILL');
    const list = await alpha('/v1/containers?all=true');
    expect(list.status).toBe(200);
    const inspect = await alpha('/v1/containers/alpha-box');
    expect(inspect.status).toBe(200);
    expect(inspect.body.runtime).toBeNull();
    const stop = await alpha('/v1/containers/alpha-box/stop', { method: 'POST' });
    expect(stop.status).toBe(503);
    if (stop.status !== 503) throw new Error(logsOf(platform));
  }, 30_000);

});
