import { IncomingMessage, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { RegistryUnreachableError } from './errors';

export interface HttpResponse {
  status: number;
  headers: IncomingMessage['headers'];
  body: IncomingMessage;
}

export interface HttpRequest {
  method: string;
  url: URL;
  headers?: Record<string, string>;
  body?: Buffer | Readable;
  timeoutMs?: number;
}

/**
 * One HTTP exchange with streaming in and out (fetch cannot stream a Node Readable upload
 * without duplex tricks, and we need exact control of Content-Length and redirects).
 */
export function send(req: HttpRequest): Promise<HttpResponse> {
  const requester = req.url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...req.headers };
    if (Buffer.isBuffer(req.body)) headers['content-length'] = String(req.body.length);
    const outgoing = requester(req.url, { method: req.method, headers }, (response) => {
      resolve({ status: response.statusCode ?? 0, headers: response.headers, body: response });
    });
    if (req.timeoutMs) {
      outgoing.setTimeout(req.timeoutMs, () => outgoing.destroy(new RegistryUnreachableError(`${req.method} ${req.url.origin}: no answer within ${req.timeoutMs} ms`)));
    }
    outgoing.on('error', (error) =>
      reject(
        error instanceof RegistryUnreachableError
          ? error
          : new RegistryUnreachableError(`${req.method} ${req.url.origin}${req.url.pathname}: ${error.message}`, (error as NodeJS.ErrnoException).code),
      ),
    );
    if (!req.body) outgoing.end();
    else if (Buffer.isBuffer(req.body)) outgoing.end(req.body);
    else {
      req.body.on('error', (error) => outgoing.destroy(error));
      req.body.pipe(outgoing);
    }
  });
}

export async function readAll(body: Readable, limit = 16 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > limit) {
      body.destroy();
      throw new Error(`response larger than ${limit} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export async function discard(body: Readable): Promise<void> {
  body.resume();
  await new Promise((resolve) => {
    body.on('end', resolve);
    body.on('error', resolve);
    body.on('close', resolve);
  });
}
