import { Agent as HttpAgent, IncomingMessage, request as httpRequest } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import type { Readable } from 'node:stream';

/**
 * The CLI's HTTP transport, on node:http/https rather than the global fetch: fetch's first call
 * loads and compiles undici inside Node (~270 ms of a 400 ms `muelle ps`), node:http is already in
 * the binary's snapshot. Keep-alive agents reuse one connection for a command's several calls;
 * Node unrefs idle sockets, so they never hold the process open. node:https (with node:tls and
 * crypto, ~15 ms of compiling at every start) is loaded only when the api is https.
 */
export interface HttpResponse {
  status: number;
  statusText: string;
  ok: boolean;
  /** The body as it arrives (an async iterable of Buffers). */
  body: IncomingMessage;
  /** Reads the whole body as UTF-8. */
  text(): Promise<string>;
}

export interface HttpCall {
  method: string;
  headers: Record<string, string>;
  /** A complete body (JSON text). */
  body?: string;
  /** A streamed body (the build context tar): sent chunked. */
  raw?: Readable;
  /** Roots to verify an https server with (MUELLE_TLS_CA); the system's roots when absent. */
  ca?: string[];
}

const plainAgent = new HttpAgent({ keepAlive: true });
let https: typeof import('node:https') | undefined;
let systemAgent: HttpsAgent | undefined;
/** One agent per set of roots (a process has one MUELLE_TLS_CA, so in practice one agent). */
const trustingAgents = new WeakMap<string[], HttpsAgent>();

function httpsAgentFor(ca: string[] | undefined): HttpsAgent {
  const { Agent } = (https ??= loadHttps());
  if (!ca) return (systemAgent ??= new Agent({ keepAlive: true }));
  let agent = trustingAgents.get(ca);
  if (!agent) trustingAgents.set(ca, (agent = new Agent({ keepAlive: true, ca })));
  return agent;
}

/** node:https on first use (a synchronous require: the call that needs it is already under way). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const loadHttps = (): typeof import('node:https') => require('node:https');

/** One HTTP exchange; resolves once the response head arrived, rejects on connection errors. */
export function httpCall(url: URL, call: HttpCall): Promise<HttpResponse> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return Promise.reject(new Error(`unsupported protocol ${url.protocol} (http: or https: only)`));
  }
  const secure = url.protocol === 'https:';
  const request = secure ? (https ??= loadHttps()).request : httpRequest;
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...call.headers };
    if (call.body !== undefined) headers['content-length'] = String(Buffer.byteLength(call.body));
    const req = request(url, { method: call.method, headers, agent: secure ? httpsAgentFor(call.ca) : plainAgent }, (res) => {
      const status = res.statusCode ?? 0;
      resolve({
        status,
        statusText: res.statusMessage ?? '',
        ok: status >= 200 && status < 300,
        body: res,
        text: () => readText(res),
      });
    });
    req.on('error', reject);
    if (call.raw) {
      // A failing source ends the request with its error, so the caller sees why.
      call.raw.on('error', (error) => req.destroy(error));
      call.raw.pipe(req);
    } else {
      req.end(call.body);
    }
  });
}

async function readText(body: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
