// The console's only door to the platform: the public /v1 API with the session cookie, plus the
// CSRF token the api gave at sign-in on every request that changes something.

export interface User {
  id: string;
  username: string;
  role: 'admin' | 'member' | 'viewer';
}

export interface Session {
  user: User;
  teamId: string | null;
  teamName: string | null;
  csrfToken: string;
  expiresAt: string | null;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const SAFE = new Set(['GET', 'HEAD']);
let csrfToken = '';
let onSignedOut: () => void = () => undefined;

export function setSession(session: Session | null, signedOut: () => void): void {
  csrfToken = session?.csrfToken ?? '';
  onSignedOut = signedOut;
}

export const currentCsrf = () => csrfToken;

function headersFor(method: string, extra: Record<string, string> = {}): Record<string, string> {
  return SAFE.has(method) || !csrfToken ? extra : { ...extra, 'X-Muelle-CSRF': csrfToken };
}

async function errorOf(response: Response): Promise<ApiError> {
  let code = 'HTTP_' + response.status;
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (body?.error?.message) ({ code, message } = body.error);
  } catch {
    // Not JSON (a proxy's page): the status line is all there is to say.
  }
  if (response.status === 401) onSignedOut();
  return new ApiError(response.status, code, message);
}

/** One JSON request. A body object is sent as JSON; a Blob (a build context) as it is. */
export async function api<T = unknown>(path: string, options: { method?: string; body?: unknown; headers?: Record<string, string>; signal?: AbortSignal } = {}): Promise<T> {
  const method = options.method ?? (options.body === undefined ? 'GET' : 'POST');
  const isBlob = options.body instanceof Blob;
  const headers = headersFor(method, { ...(options.body !== undefined && !isBlob ? { 'Content-Type': 'application/json' } : {}), ...options.headers });
  const response = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    signal: options.signal,
    body: options.body === undefined ? undefined : isBlob ? (options.body as Blob) : JSON.stringify(options.body),
  });
  if (!response.ok) throw await errorOf(response);
  if (response.status === 204) return undefined as T;
  const type = response.headers.get('Content-Type') ?? '';
  return (type.includes('json') ? response.json() : response.text()) as Promise<T>;
}

/**
 * An NDJSON stream (logs, stats, build progress): calls `onLine` per parsed line until the
 * server ends it or `signal` aborts. A line `{error}` (the stream's own failure) is thrown.
 */
export async function ndjson(path: string, onLine: (line: any) => void, options: { method?: string; body?: Blob; signal?: AbortSignal; headers?: Record<string, string> } = {}): Promise<void> {
  const method = options.method ?? 'GET';
  const response = await fetch(path, {
    method,
    body: options.body,
    headers: headersFor(method, { Accept: 'application/x-ndjson', ...options.headers }),
    credentials: 'same-origin',
    signal: options.signal,
  });
  if (!response.ok || !response.body) throw await errorOf(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffered += value;
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const text = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      if (!text) continue;
      const line = JSON.parse(text);
      if (line.error && !line.stream) throw new ApiError(200, line.error.code ?? 'STREAM', line.error.message ?? 'the stream failed');
      onLine(line);
    }
  }
}

export interface PlatformEvent {
  type: 'container' | 'image' | 'host' | 'service';
  action: string;
  id: string;
  teamId: string | null;
  at: string;
  attributes: Record<string, unknown>;
}

/** Live platform events (SSE); the browser reconnects by itself. Returns the unsubscribe. */
export function subscribeEvents(onEvent: (event: PlatformEvent) => void, onState?: (open: boolean) => void): () => void {
  const source = new EventSource('/v1/events', { withCredentials: true });
  const handle = (message: MessageEvent) => onEvent(JSON.parse(message.data));
  for (const type of ['container', 'image', 'host', 'service']) source.addEventListener(type, handle as EventListener);
  source.onopen = () => onState?.(true);
  source.onerror = () => onState?.(false);
  return () => source.close();
}

export const query = (params: Record<string, string | number | boolean | undefined | null | string[]>) => {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === '') continue;
    for (const one of Array.isArray(value) ? value : [value]) search.append(key, String(one));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
};
