#!/usr/bin/env node
// List and placement at scale, without containers: metadata and the api (dist/, in this process,
// on an in-process bus) get 50 hosts and 5,000 then 20,000 container records written straight into
// metadata's database (its own connection; no agent, no kernel), then time
//   - metadata's list request (what `GET /v1/containers` asks): first page of all, of the running
//     ones, of one host, and walking every page (limit 1000 a page),
//   - the placement snapshot (hostUsage: reservations, ports and services per host),
//   - `GET /v1/containers` through the api over HTTP with a bearer token (auth, the bus round trip,
//     validation and JSON on both ends),
// on a fresh PostgreSQL database and on PGlite.
//   npm run build && node tools/bench/api/scale.mjs [--sizes 5000,20000] [--repeat 30] [--http-repeat 300] [--only pg|pglite]
import { CONFIGURATIONS, dist, HOSTS, insertRecords, option, sample, startPlatform, timeMs } from './scale-common.mjs';
import { getOk, startApiFor } from './scale-api.mjs';

const { listContainers, hostUsage } = dist('libs/contracts/src/index.js');
const SIZES = option('sizes', '5000,20000').split(',').map(Number);
const REPEAT = Math.min(1000, Number(option('repeat', 30)));
/** HTTP requests per figure: a p99 needs a few hundred. */
const HTTP_REPEAT = Math.min(2000, Number(option('http-repeat', 300)));
const ONLY = option('only', '');

async function measure(configuration) {
  const platform = await startPlatform(configuration);
  const { bus, db } = platform;
  let api;
  try {
    api = await startApiFor(platform);
    const http = (path) => sample(() => getOk(api.api, api.authorization, path), HTTP_REPEAT);
    let recorded = 0;
    for (const size of SIZES) {
      const inserting = await timeMs(() => insertRecords(db, recorded, size - recorded));
      recorded = size;
      console.log(`\n${configuration}, ${size} containers on ${HOSTS} hosts (records written in ${(inserting / 1000).toFixed(1)} s); ms over ${REPEAT} runs (HTTP: ${HTTP_REPEAT})`);
      console.log(`  list, first page of all (100)      ${await sample(() => bus.request(listContainers, { all: true, limit: 100 }), REPEAT)}`);
      console.log(`  list, first page of running (100)  ${await sample(() => bus.request(listContainers, { limit: 100 }), REPEAT)}`);
      console.log(`  list, one host's page (100)        ${await sample(() => bus.request(listContainers, { all: true, limit: 100, filters: { hostId: 'host-7' } }), REPEAT)}`);
      console.log(`  placement snapshot (hostUsage)     ${await sample(() => bus.request(hostUsage, {}), REPEAT)}`);
      console.log(`  HTTP GET /v1/containers?all=true   ${await http('/v1/containers?all=true')}`);
      console.log(`  HTTP GET /v1/containers (running)  ${await http('/v1/containers')}`);
      console.log(`  HTTP ?all=true&host=host-7&limit=50 ${await http('/v1/containers?all=true&host=host-7&limit=50')}`);
      let pages = 0;
      const walk = await timeMs(async () => {
        let cursor;
        do {
          const page = await bus.request(listContainers, { all: true, limit: 1000, ...(cursor ? { cursor } : {}) });
          cursor = page.nextCursor ?? undefined;
          pages++;
        } while (cursor && pages < 100);
      });
      console.log(`  every page of all (1000 a page)    ${walk.toFixed(0)} ms for ${pages} pages`);
    }
  } finally {
    await api?.api.close();
    await platform.close();
  }
}

for (const configuration of CONFIGURATIONS.filter((c) => !ONLY || (ONLY === 'pg') === (c === 'PostgreSQL server'))) await measure(configuration);
