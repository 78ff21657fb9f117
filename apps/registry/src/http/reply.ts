import type { ServerResponse } from 'node:http';

/** Sends a complete answer; `Docker-Distribution-API-Version` goes on every /v2 response. */
export function reply(res: ServerResponse, status: number, headers: Record<string, string | string[]> = {}, body?: Buffer | string | object): void {
  res.statusCode = status;
  res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  if (body === undefined) {
    if (!res.hasHeader('Content-Length')) res.setHeader('Content-Length', '0');
    res.end();
    return;
  }
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  if (!res.hasHeader('Content-Type')) res.setHeader('Content-Type', 'application/json');
  res.setHeader('Content-Length', String(bytes.length));
  res.end(bytes);
}

/** `Range` of an upload session: `0-<last byte>`, no `bytes=` (Docker parses `%d-%d`); `0-0` when empty. */
export function uploadRange(offset: number): string {
  return `0-${Math.max(0, offset - 1)}`;
}
