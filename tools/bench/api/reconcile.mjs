#!/usr/bin/env node
// The reconcilers' cycle time at scale: metadata and the api from dist/ in this process on one
// in-process bus (metadata on PostgreSQL, then PGlite), 50 hosts whose agents are simulated (they
// answer the bus requests a reconciler makes: create, start, remove, list; no containers), and
// 5,000 then 20,000 container records written straight into the database. Times one pass of
//   (a) the host reconciler in steady state (every host ready: nothing to do),
//   (b) the host reconciler after one host of the 50 went down (its `--restart always` containers
//       are moved, the others recorded lost; the down host's agent does not answer),
//   (c) the services reconciler with 200 services × 25 running tasks in steady state (beside the
//       other records).
//   npm run build && node tools/bench/api/reconcile.mjs [--sizes 5000,20000] [--repeat 10] [--services 200] [--only pg|pglite]
import { CONFIGURATIONS, dist, HOSTS, insertRecords, option, percentile, startPlatform, timeMs } from './scale-common.mjs';
import { startApiFor } from './scale-api.mjs';

const { agentContracts, createService } = dist('libs/contracts/src/index.js');
const { Reconciler } = dist('apps/api/src/reconciler/reconciler.js');
const { ServiceReconciler } = dist('apps/api/src/services/service-reconciler.js');
const SIZES = option('sizes', '5000,20000').split(',').map(Number);
const REPEAT = Math.min(100, Number(option('repeat', 10)));
const SERVICES = Math.min(1000, Number(option('services', 200)));
const ONLY = option('only', '');
const OWNER = '00000000-0000-4000-8000-000000000001';
/** The host (b) takes down at the `round`th size. */
const downHost = (round) => `host-${7 + 2 * round}`;

/** Agents of every host but `down`: each answers as a real one would, without making anything. */
function simulateAgents(broker, down, counts) {
  const unsubscribe = [];
  for (let h = 0; h < HOSTS; h++) {
    const hostId = `host-${h}`;
    if (down.has(hostId)) continue;
    const c = agentContracts(hostId);
    const made = new Map(); // id → what create was asked, as an agent keeps it
    const info = (request, state) => {
      const now = new Date().toISOString();
      const { name, spec } = made.get(request.id) ?? request;
      return { id: request.id, name, hostId, image: spec.image, imageDigest: `sha256:${'0'.repeat(64)}`, spec, state, pid: null, exitCode: null, oomKilled: false, error: '', restartCount: 0, stoppedByUser: false, ipAddress: null, gateway: null, macAddress: null, ports: [], createdAt: now, startedAt: state === 'running' ? now : null, finishedAt: null, logPath: '/nonexistent', rootfsPath: '/nonexistent' };
    };
    const answer = (contract, reply) =>
      unsubscribe.push(
        broker.handleRequests(contract.subject, async (data) => {
          const verb = contract.subject.split('.').at(-2);
          counts[verb] = (counts[verb] ?? 0) + 1;
          return reply(data);
        }),
      );
    answer(c.create, (r) => (made.set(r.id, r), info(r, 'created')));
    answer(c.start, (r) => info(r, 'running'));
    answer(c.remove, (r) => ({ removed: made.delete(r.id) }));
    answer(c.list, () => ({ items: [] }));
  }
  return () => unsubscribe.forEach((u) => u());
}

async function cycles(label, fn) {
  await fn(); // warm-up
  const times = [];
  for (let i = 0; i < REPEAT; i++) times.push(await timeMs(fn));
  console.log(`  ${label.padEnd(46)} p50 ${percentile(times, 50).toFixed(1).padStart(8)}  max ${Math.max(...times).toFixed(1).padStart(8)} ms`);
}

/** SERVICES services, 5,000 tasks in all, running on hosts that (b) never takes down (so (c) stays steady). */
async function addServices(bus, db, from) {
  const replicas = Math.max(1, Math.floor(5000 / SERVICES));
  const made = [];
  for (let s = 0; s < SERVICES; s++) {
    made.push(await bus.request(createService, { name: `svc${s}`, teamId: null, ownerId: OWNER, spec: { image: 'busybox:latest', command: ['sleep', '1d'], replicas } }));
  }
  const ready = Array.from({ length: HOSTS }, (_, h) => `host-${h}`).filter((h) => !SIZES.some((_, round) => downHost(round) === h));
  await insertRecords(db, from, SERVICES * replicas, (i) => {
    const service = made[(i - from) % SERVICES];
    return { state: 'running', hostId: ready[i % ready.length], labels: { 'muelle.service': service.name, 'muelle.service.id': service.id, 'muelle.service.version': '1' } };
  });
  return SERVICES * replicas;
}

async function measure(configuration) {
  // Hosts are marked down by the benchmark, never by missing heartbeats.
  const platform = await startPlatform(configuration, { MUELLE_HOST_DOWN_AFTER_SECONDS: '86400' });
  const { broker, bus, db } = platform;
  const counts = {};
  let stopAgents = () => {};
  let api;
  try {
    api = await startApiFor(platform);
    const hosts = api.api.app.get(Reconciler, { strict: false });
    const services = api.api.app.get(ServiceReconciler, { strict: false });
    const downed = new Set();
    stopAgents = simulateAgents(broker, downed, counts);
    let others = 0; // records that are not service tasks
    let next = 0; // the next record's number (names are unique)
    let tasks = 0;
    for (const [round, size] of SIZES.entries()) {
      await insertRecords(db, next, size - others);
      next += size - others;
      others = size;
      console.log(`\n${configuration}, ${size} containers on ${HOSTS} hosts${tasks ? ` (and ${tasks} service tasks)` : ''}`);
      await cycles('(a) hosts, steady state', () => hosts.round());
      // (b) one host goes down: its agent stops answering and metadata records it down.
      const down = downHost(round);
      downed.add(down);
      stopAgents();
      stopAgents = simulateAgents(broker, downed, counts);
      const live = await db.query(`SELECT count(*) FILTER (WHERE spec->'restartPolicy'->>'name' = 'always')::int AS always, count(*)::int AS n FROM containers WHERE host_id = $1 AND state IN ('created', 'running', 'restarting', 'paused')`, [down]);
      await db.query(`UPDATE hosts SET state = 'down' WHERE id = $1`, [down]);
      for (const k of Object.keys(counts)) delete counts[k];
      const always = (await db.query(`SELECT id FROM containers WHERE host_id = $1 AND spec->'restartPolicy'->>'name' = 'always' AND state IN ('created', 'running', 'restarting', 'paused')`, [down])).map((r) => r.id);
      const pass = await timeMs(() => hosts.round());
      // One placement generation per pass now (the moves are recorded together), so count records.
      const [{ moved }] = await db.query(`SELECT count(*)::int AS moved FROM containers WHERE id = ANY($1) AND host_id <> $2`, [always, down]);
      console.log(`  (b) hosts, ${down} down: ${live[0].n} live, ${live[0].always} --restart always`.padEnd(48) + ` one pass ${pass.toFixed(0).padStart(6)} ms; ${moved} moved; agent requests ${JSON.stringify(counts)}`);
      const left = await db.query(`SELECT count(*)::int AS n FROM containers WHERE host_id = $1 AND state IN ('created', 'running', 'restarting', 'paused')`, [down]);
      console.log(`      live records left on ${down} after the pass: ${left[0].n} (lost is recorded by an event, a moment later)`);
      await cycles('(a) hosts, steady state again (1 host down)', () => hosts.round());
      // (c) services in steady state: SERVICES services × replicas tasks, made once, beside the other records.
      if (!tasks) {
        tasks = await addServices(bus, db, next);
        next += tasks;
      }
      for (const k of Object.keys(counts)) delete counts[k];
      await cycles(`(c) services, ${SERVICES} in steady state (${tasks} tasks)`, () => services.round());
      console.log(`      agent requests during (c): ${JSON.stringify(counts)} (steady state: none expected)`);
    }
  } finally {
    stopAgents();
    await api?.api.close();
    await platform.close();
  }
}

for (const configuration of CONFIGURATIONS.filter((c) => !ONLY || (ONLY === 'pg') === (c === 'PostgreSQL server'))) await measure(configuration);
