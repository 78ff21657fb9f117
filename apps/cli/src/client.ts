import { Readable } from 'node:stream';
import type { WebSocket } from 'ws';
import { CliConfig } from './config';
import { CliError } from './errors';
import { httpCall, HttpResponse } from './http';
import { trustedRoots } from './tls';

export interface ApiErrorBody {
  error?: { code?: string; message?: string; details?: unknown };
}

/** The CLI's only way to the platform: the /v1 HTTP API. */
export class ApiClient {
  /** The roots to verify the api's certificate with: the system's, plus MUELLE_TLS_CA when set. */
  private readonly ca = trustedRoots();

  constructor(
    readonly config: CliConfig,
    private readonly authorization?: string,
  ) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    const auth = this.authorization ?? (this.config.token ? `Bearer ${this.config.token}` : undefined);
    return {
      ...(auth ? { authorization: auth } : {}),
      'user-agent': 'muelle-cli',
      ...extra,
    };
  }

  async request<T = any>(
    method: string,
    path: string,
    options: {
      body?: unknown;
      query?: Record<string, string | number | boolean | string[] | undefined>;
    } = {},
  ): Promise<T> {
    const response = await this.send(method, path, options);
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** The raw response of a successful call (for NDJSON streams); errors become CliError. */
  async send(
    method: string,
    path: string,
    options: {
      body?: unknown;
      /** A streamed request body (the build context tar). */
      raw?: Readable;
      query?: Record<string, string | number | boolean | string[] | undefined>;
      accept?: string;
    } = {},
  ): Promise<HttpResponse> {
    const url = new URL(this.config.api + path);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value === undefined) continue;
      for (const item of Array.isArray(value) ? value : [value]) url.searchParams.append(key, String(item));
    }
    let response: HttpResponse;
    try {
      response = await httpCall(url, {
        method,
        headers: this.headers({
          ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(options.raw ? { 'content-type': 'application/x-tar' } : {}),
          ...(options.accept ? { accept: options.accept } : {}),
        }),
        raw: options.raw,
        body: options.body !== undefined ? JSON.stringify(options.body) : undefined,
        ca: this.ca,
      });
    } catch (error) {
      throw new CliError(`Cannot connect to the Muelle API at ${this.config.api}. Is it running? (${(error as Error).message})`);
    }
    if (!response.ok) throw await errorFrom(response);
    return response;
  }

  /** Reads an NDJSON response line by line. */
  async *lines(response: HttpResponse): AsyncGenerator<any> {
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      buffer += decoder.decode(chunk, { stream: true });
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline).trim();
        buffer = buffer.slice(newline + 1);
        if (line) yield JSON.parse(line);
      }
    }
    if (buffer.trim()) yield JSON.parse(buffer);
  }

  /** ws is loaded on first use: only -it, attach and exec need it. */
  async websocket(path: string, query: Record<string, string | number | undefined> = {}): Promise<WebSocket> {
    const url = new URL(this.config.api.replace(/^http/, 'ws') + path);
    for (const [key, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(key, String(value));
    const { WebSocket } = await import('ws');
    return new WebSocket(url, { headers: this.headers(), ...(this.ca ? { ca: this.ca } : {}) });
  }
}

async function errorFrom(response: HttpResponse): Promise<CliError> {
  let body: ApiErrorBody | undefined;
  const text = await response.text().catch(() => ''); // a cut body: the status text says what failed
  try {
    body = JSON.parse(text);
  } catch {
    // Not an api error body (a proxy's page): shown as text.
    body = undefined;
  }
  const message = body?.error?.message ?? (text || response.statusText);
  if (response.status === 401) return new CliError(`${message} (run "muelle login" or set MUELLE_TOKEN)`, 125, 'UNAUTHENTICATED');
  return new CliError(message, 125, body?.error?.code);
}
