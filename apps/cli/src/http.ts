import { Agent as HttpAgent, IncomingMessage, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';

/**
 * The CLI's HTTP transport, on node:http/https rather than the global fetch: fetch's first call
 * loads and compiles undici inside Node (~270 ms of a 400 ms `muelle ps`), node:http is already in
 * the binary's snapshot. Keep-alive agents reuse one connection for a command's several calls;
 * Node unrefs idle sockets, so they never hold the process open.
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
const systemAgent = new HttpsAgent({ keepAlive: true });
/** One agent per set of roots (a process has one MUELLE_TLS_CA, so in practice one agent). */
const trustingAgents = new WeakMap<string[], HttpsAgent>();

function agentFor(url: URL, ca: string[] | undefined): HttpAgent | HttpsAgent {
  if (url.protocol === 'http:') return plainAgent;
  if (!ca) return systemAgent;
  let agent = trustingAgents.get(ca);
  if (!agent) trustingAgents.set(ca, (agent = new HttpsAgent({ keepAlive: true, ca })));
  return agent;
}

/** One HTTP exchange; resolves once the response head arrived, rejects on connection errors. */
export function httpCall(url: URL, call: HttpCall): Promise<HttpResponse> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return Promise.reject(new Error(`unsupported protocol ${url.protocol} (http: or https: only)`));
  }
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...call.headers };
    if (call.body !== undefined) headers['content-length'] = String(Buffer.byteLength(call.body));
    const req = request(url, { method: call.method, headers, agent: agentFor(url, call.ca) }, (res) => {
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
