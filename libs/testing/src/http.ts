import { readFileSync } from 'node:fs';
import { request } from 'node:https';
/** Polls until `check` passes or the deadline is reached; the last failure is the error. */
export async function eventually<T>(check: () => Promise<T>, { timeoutMs = 20_000, intervalMs = 200 } = {}): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      return await check();
    } catch (error) {
      lastError = error;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}

export async function getJson(url: string, init: RequestInit & { ca?: string } = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const response = init.ca ? await httpsFetch(url, init, init.ca) : await fetch(url, { ...init, signal: AbortSignal.timeout(5_000) });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // Not JSON: keep the text.
  }
  return { status: response.status, body, headers: response.headers };
}

export async function waitReady(baseUrl: string, timeoutMs = 30_000, ca?: string): Promise<void> {
  await eventually(
    async () => {
      const { status, body } = await getJson(`${baseUrl}/readyz`, { ca });
      if (status !== 200) throw new Error(`${baseUrl}/readyz: ${status} ${JSON.stringify(body)}`);
    },
    { timeoutMs },
  );
}

export const basicAuth = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

/**
 * fetch() over HTTPS trusting the PEM CA file `ca` (jest's sandbox cannot give Node's own fetch
 * another CA): the same Response, from node:https.
 */
export function httpsFetch(url: string, init: RequestInit = {}, ca: string): Promise<Response> {
  return new Promise((resolve, reject) => {
    const headers = Object.fromEntries(new Headers(init.headers).entries());
    const outgoing = request(url, { method: init.method ?? 'GET', headers, ca: readFileSync(ca), timeout: 5_000 }, (incoming) => {
      const chunks: Buffer[] = [];
      incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
      incoming.on('end', () => {
        const responseHeaders = new Headers();
        for (const [name, value] of Object.entries(incoming.headers)) if (value !== undefined) responseHeaders.set(name, String(value));
        resolve(new Response(incoming.statusCode === 204 || incoming.statusCode === 304 ? null : Buffer.concat(chunks), { status: incoming.statusCode, headers: responseHeaders }));
      });
      incoming.on('error', reject);
    });
    outgoing.on('timeout', () => outgoing.destroy(new Error(`${url}: no answer within 5 s`)));
    outgoing.on('error', reject);
    outgoing.end(typeof init.body === 'string' ? init.body : undefined);
  });
}
