import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { Frame } from '@muelle/bus';
import { MuelleError, PermissionDeniedError, toMuelleError } from '@muelle/contracts';
import { errorHeaders, httpStatusOf, LOGGER } from '@muelle/service-kit';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { RawData, WebSocket, WebSocketServer } from 'ws';
import { Authenticator } from '../auth/authenticator';
import { RequestPrincipal } from '../auth/principal';
import { crossSiteRefusal } from '../auth/origin-policy';
import { credentialOf } from '../auth/session-cookie';
import { API_CONFIG, ApiConfig } from '../config';
import { ContainersService } from './containers.service';
import { DEFAULT_DETACH_KEYS, DetachKeysFilter, parseDetachKeys } from './detach-keys';
import { SessionHandlers, StreamSession, written } from './stream-session';

const EXEC_PATH = /^\/v1\/containers\/([^/]+)\/exec\/([a-f0-9]{64})\/ws$/;
const ATTACH_PATH = /^\/v1\/containers\/([^/]+)\/attach\/ws$/;

/**
 * Interactive sessions over WebSocket: `exec -it` and `run -it` (attach). Every binary message
 * starts with one byte of `Frame` type, as on the bus: the server sends Stdout(1), Stderr(2) and
 * finally Exit(5) `{exitCode}` or Error(6) `{code,message}`; the client sends Stdin(0),
 * Resize(3) `{rows,cols}` and StdinEnd(4). Auth is the usual Authorization header on the upgrade, or
 * the console's session cookie with its CSRF token in `?csrf=` (session-cookie.ts).
 */
@Injectable()
export class TerminalGateway implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly sockets = new WebSocketServer({ noServer: true });

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly authenticator: Authenticator,
    private readonly containers: ContainersService,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
  ) {}

  onApplicationBootstrap() {
    const server = this.adapterHost.httpAdapter.getHttpServer() as Server;
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const url = new URL(req.url ?? '/', 'http://api');
      if (!EXEC_PATH.test(url.pathname) && !ATTACH_PATH.test(url.pathname)) return; // someone else's upgrade (Docker API)
      // Browsers let any page open a WebSocket to any host: the handshake's Origin is the only guard.
      const crossSite = crossSiteRefusal('GET', req.headers, this.config.MUELLE_ALLOWED_ORIGINS, true);
      if (crossSite) return refuse(socket, new PermissionDeniedError(crossSite, { rule: 'origin' }));
      let credential: string | undefined;
      try {
        credential = credentialOf('GET', req.headers, url.searchParams, true);
      } catch (error) {
        return refuse(socket, toMuelleError(error));
      }
      this.authenticator.authenticate(credential, req.socket.remoteAddress).then(
        (principal) => this.sockets.handleUpgrade(req, socket, head, (ws) => this.serve(ws, principal, url)),
        (error) => refuse(socket, toMuelleError(error)),
      );
    });
  }

  onApplicationShutdown() {
    for (const client of this.sockets.clients) client.terminate();
    this.sockets.close();
  }

  private async serve(ws: WebSocket, principal: RequestPrincipal, url: URL) {
    const handlers: SessionHandlers = {
      // Frames carry their stream in the first byte; credit goes back to the agent once the socket took one (stream-session.ts).
      onOutput: (stream, data) => {
        if (ws.readyState !== WebSocket.OPEN) return;
        const frame = frameOf(stream === 'stdout' ? Frame.Stdout : Frame.Stderr, data);
        return written((done) => ws.send(frame, done));
      },
      onExit: (exitCode) => finish(ws, Frame.Exit, { exitCode }),
      onError: (error) => finish(ws, Frame.Error, error.toWire()),
    };
    let session: StreamSession | undefined;
    const pending: RawData[] = [];
    // Detach keys (Docker's, default ctrl-p ctrl-q) on an attach with stdin to a tty container, or an
    // exec with stdin and a tty (piped binary input must pass untouched, as with Docker): the client
    // leaves, the container runs on, and so does an exec'd command, its input left open (as dockerd
    // leaves a tty exec's); a client that is lost instead (the socket closes) ends that input.
    let detachKeys: DetachKeysFilter | undefined;
    // Out of the agent's credit, the WebSocket is paused: the client waits, not our memory.
    const stdin = (current: StreamSession, input: Uint8Array) => {
      if (current.stdin(input)) return;
      ws.pause();
      void current.stdinDrained().then(() => ws.resume());
    };
    const onMessage = (current: StreamSession, data: RawData) => {
      const bytes = bytesOf(data);
      if (!detachKeys || bytes[0] !== Frame.Stdin) return forward(current, bytes, stdin);
      const { forward: input, detach } = detachKeys.push(bytes.subarray(1));
      if (input.length) stdin(current, input);
      if (!detach) return;
      current.detach();
      finish(ws, Frame.Exit, { exitCode: 0, detached: true });
    };
    ws.on('message', (data) => (session ? onMessage(session, data) : pending.push(data)));
    ws.on('close', () => session?.close());
    // Until the session exists the client's input waits in its connection, not in `pending`.
    ws.pause();
    try {
      const rows = Number(url.searchParams.get('rows')) || undefined;
      const cols = Number(url.searchParams.get('cols')) || undefined;
      const keys = parseDetachKeys(url.searchParams.get('detachKeys') || DEFAULT_DETACH_KEYS);
      const exec = EXEC_PATH.exec(url.pathname);
      if (exec) {
        const size = rows && cols ? { rows, cols } : undefined;
        const started = await this.containers.execStart(principal, decodeURIComponent(exec[1]), exec[2], size, handlers);
        session = started.session;
        // `stdin=1`: the client sends its input (`-i`), as on the attach path.
        if (url.searchParams.get('stdin') === '1' && started.exec.tty) detachKeys = new DetachKeysFilter(keys);
      } else {
        const ref = decodeURIComponent(ATTACH_PATH.exec(url.pathname)![1]);
        const fromStart = url.searchParams.get('fromStart') === '1';
        const stdin = url.searchParams.get('stdin') === '1';
        const attached = await this.containers.attach(principal, ref, stdin, handlers, fromStart);
        session = attached.session;
        if (stdin && attached.tty) detachKeys = new DetachKeysFilter(keys);
        if (rows && cols) session.resize(rows, cols);
      }
      for (const data of pending.splice(0)) onMessage(session, data);
      ws.resume();
      if (ws.readyState !== WebSocket.OPEN) session.close();
    } catch (error) {
      const typed = toMuelleError(error);
      if (typed.code === 'INTERNAL') this.logger.error({ err: error }, 'terminal session failed');
      finish(ws, Frame.Error, typed.toWire());
    }
  }
}

function bytesOf(data: RawData): Buffer {
  return Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

function forward(session: StreamSession, bytes: Buffer, stdin: (session: StreamSession, input: Uint8Array) => void) {
  if (!bytes.length) return;
  const payload = bytes.subarray(1);
  if (bytes[0] === Frame.Stdin) stdin(session, payload);
  else if (bytes[0] === Frame.StdinEnd) session.closeStdin();
  else if (bytes[0] === Frame.Resize) {
    try {
      const { rows, cols } = JSON.parse(payload.toString('utf8'));
      if (Number.isInteger(rows) && Number.isInteger(cols) && rows > 0 && cols > 0) session.resize(rows, cols);
    } catch {
      // A malformed resize is ignored: the session itself is fine.
    }
  }
}

function frameOf(type: number, payload: Uint8Array): Buffer {
  const frame = Buffer.alloc(payload.length + 1);
  frame[0] = type;
  frame.set(payload, 1);
  return frame;
}

function send(ws: WebSocket, type: number, payload: Uint8Array) {
  if (ws.readyState === WebSocket.OPEN) ws.send(frameOf(type, payload));
}

function finish(ws: WebSocket, type: number, value: unknown) {
  send(ws, type, Buffer.from(JSON.stringify(value)));
  if (ws.readyState === WebSocket.OPEN) ws.close(1000);
}

function refuse(socket: Duplex, error: MuelleError) {
  const status = httpStatusOf[error.code];
  const body = JSON.stringify({ error: error.toWire() });
  socket.end(
    `HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      Object.entries(errorHeaders(error))
        .map(([name, value]) => `${name}: ${value}\r\n`)
        .join('') +
      `Connection: close\r\n\r\n${body}`,
  );
}
