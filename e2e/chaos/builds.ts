import { getJson } from '@muelle/testing';
import { readdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { pack } from 'tar-stream';

/** Builds through `POST /v1/builds` for the chaos suites: a small FROM-scratch context, the outcome as the client sees it. */
export interface BuildOutcome {
  tag: string;
  /** The final NDJSON line's build id and image digest; absent when the build was cut or failed. */
  done?: { buildId: string; digest: string };
}

export type BuildRecordView = { id: string; state: string; tags: string[]; result?: { digest: string }; error?: { message: string } };

/** A context tar: a shared blob (so layers are real work) and a marker that makes each build's image its own. */
export async function buildContext(shared: Buffer, marker: string): Promise<Buffer> {
  const tar = pack();
  tar.entry({ name: 'Dockerfile', mtime: new Date(0) }, 'FROM scratch\nCOPY shared.bin /shared.bin\nCOPY marker.txt /marker.txt\n');
  tar.entry({ name: 'shared.bin', mtime: new Date(0) }, shared);
  tar.entry({ name: 'marker.txt', mtime: new Date(0) }, `${marker}\n`);
  tar.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of tar) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Sends one build; resolves with `done` only when the api's last line says the build completed (a
 * cut connection is not an error here). The client gives up after `timeoutMs`, as a user would
 * (the api answers 503 once a builder that died mid-build stays silent past MUELLE_STREAM_SILENCE_MS).
 */
export async function postBuild(api: string, auth: Record<string, string>, tag: string, context: Buffer, timeoutMs = 20_000): Promise<BuildOutcome> {
  try {
    const response = await fetch(`${api}/v1/builds?t=${encodeURIComponent(tag)}`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/x-tar' },
      body: context,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const lines = (await response.text()).trim().split('\n').filter(Boolean);
    const last = JSON.parse(lines[lines.length - 1] ?? '{}') as { status?: string; buildId?: string; digest?: string };
    return last.status === 'done' && last.buildId && last.digest ? { tag, done: { buildId: last.buildId, digest: last.digest } } : { tag };
  } catch {
    // The platform was killed under the request, its answer was cut or never came: the outcome is read from the record.
    return { tag };
  }
}

/** Every build record (newest first), paging through `/v1/builds`. */
export async function buildRecords(api: string, auth: Record<string, string>): Promise<BuildRecordView[]> {
  const records: BuildRecordView[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 50; page++) {
    const query: string = cursor ? `?limit=100&cursor=${encodeURIComponent(cursor)}` : '?limit=100';
    const { status, body } = await getJson(`${api}/v1/builds${query}`, { headers: auth });
    if (status !== 200) throw new Error(`GET /v1/builds answered ${status}: ${JSON.stringify(body)}`);
    records.push(...(body.items as BuildRecordView[]));
    cursor = body.nextCursor as string | null;
    if (!cursor) break;
  }
  return records;
}

/** Waits (bounded) until no build record says `running`: the builder's start marks its interrupted builds failed in the background. */
export async function settledBuilds(api: string, auth: Record<string, string>, timeoutMs = 15_000): Promise<BuildRecordView[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const records = await buildRecords(api, auth);
    if (!records.some((r) => r.state === 'running') || Date.now() > deadline) return records;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** What the builder keeps per build (context spool, work dirs, temp files): nothing once no build runs. */
export function builderScratch(dataDir: string): string[] {
  return ['work', 'tmp'].flatMap((dir) => readdirSync(join(dataDir, 'builder', dir)).map((name) => `${dir}/${name}`));
}

/**
 * A build whose client sends only the first `firstBytes` of its context and then holds the upload
 * open (a slow client): the build stays in the builder's hands, waiting, for as long as the test
 * wants. `answer` is the api's response (status, JSON body and when it came), whenever it comes; `abort` drops it.
 */
export function heldBuild(api: string, auth: Record<string, string>, tag: string, context: Buffer, firstBytes: number) {
  const req = request(`${api}/v1/builds?t=${encodeURIComponent(tag)}`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/x-tar', 'content-length': String(context.length) },
  });
  const answer = new Promise<{ status: number; body: { error?: { code: string; message: string } }; answeredAt: number }>((resolve, reject) => {
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, answeredAt: Date.now(), body: JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') }));
      res.on('error', reject);
    });
  });
  // The test may abort before an answer: no unhandled rejection meanwhile.
  answer.catch(() => undefined);
  req.write(context.subarray(0, firstBytes));
  return { answer, abort: () => req.destroy() };
}
