import { Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { MuelleError } from '@muelle/contracts';
import { LOGGER } from '@muelle/service-kit';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { Authenticator } from '../auth/authenticator';
import { RequestPrincipal } from '../auth/principal';
import { refuseCrossSite } from '../auth/origin-policy';
import { API_CONFIG, ApiConfig } from '../config';
import { ContainersService } from '../containers/containers.service';
import { SessionHandlers, StreamSession, written } from '../containers/stream-session';
import { dockerError, NotSupportedByMuelleError } from './errors';
import { DEFAULT_DETACH_KEYS, DetachKeysFilter, parseDetachKeys } from '../containers/detach-keys';
import { decodeExecId } from './exec-ids';
import { multiplexedFrame, outputEncoder, SYSTEM_ERROR, upgradeHead } from './framing';
import { matchDockerPath, rewriteDockerUrl } from './paths';
import { DockerSessions } from './sessions';

const ATTACH = /^\/containers\/([^/]+)\/attach$/;
const EXEC_START = /^\/exec\/([^/]+)\/start$/;
const MAX_EXEC_BODY = 64 * 1024;
/**
 * Sent right after the upgrade head, in the same write, on an interactive tty attach. The docker
 * CLI spots the detach keys itself (a tty on both ends) and leaves on the `EscapeError` its copy
 * of stdin returns; but over plain TCP, when nothing follows the head in the CLI's read buffer, it
 * copies into the bare `*net.TCPConn`, whose ReadFrom wraps that error (`readfrom tcp …: read
 * escape sequence`), so the CLI takes it for the end of its input and then waits for the container
 * to exit: ctrl-p ctrl-q hangs. A real dockerd over TCP hangs the same way (checked with a TCP
 * relay to dockerd 20.10's socket); over its unix socket it does not. One byte already buffered
 * makes the CLI wrap the connection (no ReadFrom), so the error arrives as it is. A NUL on a
 * terminal shows nothing.
 */
const DETACHABLE_MARK = '\0';
/** Input kept for a session that does not exist yet; beyond it the client's socket is paused. */
const PENDING_STDIN_BYTES = 1024 * 1024;

/**
 * The Docker API's raw side on the api's HTTP server: it maps Docker's paths (versioned
 * `/v1.41/...` and unversioned) onto the Nest routes under `/docker-engine`, and serves the
 * hijacked connections of `attach` and `exec start` (`101 UPGRADED`, `Upgrade: tcp`).
 */
@Injectable()
export class DockerHijack implements OnApplicationBootstrap {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly authenticator: Authenticator,
    private readonly containers: ContainersService,
    private readonly sessions: DockerSessions,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
  ) {}

  onApplicationBootstrap() {
    const server = this.adapterHost.httpAdapter.getHttpServer() as Server;
    // Before Express sees the request: Docker's routes cannot be told apart from Muelle's /v1 by Express patterns.
    server.prependListener('request', (req: IncomingMessage) => {
      if (req.url) req.url = rewriteDockerUrl(req.url);
    });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const match = matchDockerPath(req.url ?? '/');
      if (!match) return; // Muelle's own upgrades (WebSocket terminals)
      this.upgrade(req, socket, head, match.path, new URLSearchParams(match.query)).catch((error) => this.refuse(socket, error));
    });
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, path: string, query: URLSearchParams) {
    socket.on('error', (error) => this.logger.debug({ err: error }, 'docker hijacked socket error'));
    const attach = ATTACH.exec(path);
    const exec = EXEC_START.exec(path);
    if (!attach && !exec) throw new NotSupportedByMuelleError(`upgrading ${req.method} ${path}`);
    refuseCrossSite(req.method ?? 'POST', req.headers, this.config.MUELLE_ALLOWED_ORIGINS, true);
    const principal = await this.authenticator.authenticate(req.headers.authorization, req.socket.remoteAddress);
    if (attach) await this.attach(principal, socket, head, decodeURIComponent(attach[1]), query);
    else await this.execStart(principal, req, socket, head, exec![1]);
  }

  /** `docker exec`: the JSON body follows the headers on the raw socket; then the stream. */
  private async execStart(principal: RequestPrincipal, req: IncomingMessage, socket: Duplex, head: Buffer, dockerExecId: string) {
    const { containerId, execId } = decodeExecId(dockerExecId);
    const length = Number(req.headers['content-length'] ?? 0);
    const { body, rest } = await readBody(socket, head, length);
    let options: { Detach?: boolean; Tty?: boolean; ConsoleSize?: [number, number] | null } = {};
    if (body.length) {
      try {
        options = JSON.parse(body.toString('utf8'));
      } catch {
        throw new MuelleError('INVALID_ARGUMENT', 'exec start body is not JSON');
      }
    }
    if (options.Detach) throw new NotSupportedByMuelleError('a detached exec over an upgraded connection', 400);
    const info = await this.containers.execInspect(principal, containerId, execId);
    const encode = outputEncoder(info.tty);
    let session: StreamSession | undefined;
    // With a tty and stdin, as dockerd: the detach keys (the create's DetachKeys, else ctrl-p ctrl-q)
    // and the end of the client's input both end this connection and leave the exec running with its
    // stdin open. The docker CLI over TCP spots the keys itself and half-closes (no DETACHABLE_MARK:
    // it then reads to the end and exits 0 with the exec's exit code, which is none yet: 0, as with
    // dockerd over TCP; dockerd over its unix socket ends with "read escape sequence", 1).
    const interactive = info.tty && info.attachStdin;
    const detachKeys = interactive ? new DetachKeysFilter(parseDetachKeys(info.detachKeys || DEFAULT_DETACH_KEYS)) : undefined;
    let detached = false;
    const detach = () => {
      detached = true;
      session?.detach();
      if (!socket.writableEnded) socket.end();
    };
    const stdin = new StdinRelay(socket, rest, detachKeys, detach, interactive);
    socket.write(upgradeHead(info.tty));
    const [rows, cols] = options.ConsoleSize ?? [];
    const size = rows && cols ? { rows, cols } : undefined;
    const finished = this.pipeOutput(socket, encode, info.tty);
    try {
      ({ session } = await this.containers.execStart(principal, containerId, execId, size, finished.handlers));
    } catch (error) {
      finished.handlers.onError(error instanceof MuelleError ? error : new MuelleError('INTERNAL', (error as Error).message));
      return;
    }
    const started = session;
    const forget = this.sessions.addResizable(dockerExecId, started);
    // Detached before the exec started (keys in the first input): it starts and runs on, input open.
    if (detached) started.detach();
    else stdin.connect(started);
    socket.on('close', () => {
      forget();
      // A lost client (not a detach): the exec's input ends (session.close; see the agent contract).
      started.close();
    });
  }

  /**
   * `docker run` attaches before it starts the container: output then comes from the container's
   * log, followed from its start, so nothing printed before the attach could be set up is lost.
   * A running container is attached live (output from now on, like Docker).
   */
  private async attach(principal: RequestPrincipal, socket: Duplex, head: Buffer, ref: string, query: URLSearchParams) {
    const flag = (name: string) => query.get(name) === '1' || query.get(name) === 'true';
    if (flag('logs')) throw new NotSupportedByMuelleError('attach with logs=1 (use docker logs)', 400);
    const view = await this.containers.inspect(principal, ref);
    const tty = view.spec.tty;
    const wantStdin = flag('stdin') && view.spec.openStdin;
    const streams = { stdout: flag('stdout'), stderr: flag('stderr') };
    const encode = outputEncoder(tty);
    const closers: Array<() => void> = [];
    const closeAll = () => closers.splice(0).forEach((close) => close());
    // Detach keys (Docker's, default ctrl-p ctrl-q) end this connection; the container keeps running.
    // As with Docker only on a tty: piped binary input (tar) must pass untouched.
    const detachKeys = wantStdin && tty ? new DetachKeysFilter(parseDetachKeys(query.get('detachKeys') || DEFAULT_DETACH_KEYS)) : undefined;
    // Docker: the end of the client's input ends the attach, unless it is the container's (StdinOnce without tty).
    const inputEndLeaves = wantStdin && (tty || !view.spec.stdinOnce);
    const stdin = new StdinRelay(socket, head, detachKeys, () => {
      closeAll();
      if (!socket.writableEnded) socket.end();
    }, inputEndLeaves);
    socket.write(detachKeys ? `${upgradeHead(tty)}${DETACHABLE_MARK}` : upgradeHead(tty));
    const output = this.pipeOutput(socket, encode, tty, streams);
    socket.on('close', closeAll);
    this.sessions.trackOutput(view.id, output.done);

    if (view.state === 'running') {
      const { session } = await this.containers.attach(principal, view.id, wantStdin, output.handlers);
      closers.push(() => session.close(), this.sessions.addResizable(view.id, session));
      stdin.connect(session);
      return;
    }
    const cancel = this.sessions.onNextStart(view.id, (startedBy, startRequestedAt) => {
      // Started through another replica: this attach reads as the client that opened it.
      const starter = startedBy ?? principal;
      void (async () => {
        try {
          const since = view.startedAt ? startRequestedAt : undefined;
          const logs = await this.containers.streamLogs(starter, view.id, { follow: true, timestamps: false, stdout: true, stderr: true, since }, output.handlers);
          closers.push(() => {
            logs.closeStdin();
            logs.close();
          });
          if (!wantStdin && !tty) return;
          // Stdin and resizes go through an attach whose output is not needed (the log has it).
          const ignore: SessionHandlers = { onOutput: () => undefined, onExit: () => undefined, onError: () => undefined };
          const { session } = await this.containers.attach(starter, view.id, wantStdin, ignore);
          closers.push(() => session.close(), this.sessions.addResizable(view.id, session));
          stdin.connect(session);
        } catch (error) {
          if (error instanceof MuelleError && error.code === 'CONFLICT') return; // it already exited: the log has everything
          output.handlers.onError(error instanceof MuelleError ? error : new MuelleError('INTERNAL', (error as Error).message));
        }
      })();
    });
    closers.push(cancel);
  }

  /** Session output onto the socket; the socket is ended (not destroyed) once everything was written. */
  private pipeOutput(socket: Duplex, encode: ReturnType<typeof outputEncoder>, tty: boolean, streams = { stdout: true, stderr: true }) {
    let finish!: () => void;
    const done = new Promise<void>((resolve) => (finish = resolve));
    socket.on('close', () => finish());
    const end = () => {
      if (!socket.writableEnded) socket.end(() => finish());
      else finish();
    };
    const handlers: SessionHandlers = {
      // Credit goes back to the agent once the socket took the frame (stream-session.ts).
      onOutput: (stream, data) => {
        if (!streams[stream] || socket.writableEnded) return;
        const frame = encode(stream, data);
        return written((done) => socket.write(frame, done));
      },
      onExit: () => end(),
      onError: (error) => {
        const message = `${error.message}\n`;
        if (!socket.writableEnded) socket.write(tty ? Buffer.from(message) : multiplexedFrame(SYSTEM_ERROR, Buffer.from(message)));
        end();
      },
    };
    return { handlers, done };
  }

  /** Errors before the upgrade: a plain HTTP answer with Docker's JSON body. */
  private refuse(socket: Duplex, error: unknown) {
    const { status, message } = dockerError(error);
    if (status >= 500 && status !== 501) this.logger.error({ err: error }, 'docker hijack failed');
    if (socket.destroyed || socket.writableEnded) return;
    const body = JSON.stringify({ message });
    socket.end(
      `HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        (status === 401 ? 'WWW-Authenticate: Bearer realm="muelle"\r\n' : '') +
        `Connection: close\r\n\r\n${body}`,
    );
  }
}

/** Reads exactly `length` body bytes that follow the headers; the rest is the start of the stream. */
function readBody(socket: Duplex, head: Buffer, length: number): Promise<{ body: Buffer; rest: Buffer }> {
  if (!Number.isInteger(length) || length < 0 || length > MAX_EXEC_BODY) return Promise.reject(new MuelleError('INVALID_ARGUMENT', 'bad Content-Length'));
  if (head.length >= length) return Promise.resolve({ body: head.subarray(0, length), rest: head.subarray(length) });
  return new Promise((resolve, reject) => {
    let buffered = head;
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length < length) return;
      cleanup();
      resolve({ body: buffered.subarray(0, length), rest: buffered.subarray(length) });
    };
    const onEnd = () => {
      cleanup();
      reject(new MuelleError('INVALID_ARGUMENT', 'connection closed before the request body was complete'));
    };
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('end', onEnd);
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
  });
}

/**
 * Client bytes → the session's stdin. Bytes arriving before the session exists are kept; the
 * client's half-close (stdin EOF) becomes StdinEnd while output keeps flowing the other way.
 */
class StdinRelay {
  private pending: Buffer[] = [];
  private ended = false;
  private detached = false;
  private session: StreamSession | null = null;

  constructor(
    private readonly socket: Duplex,
    first: Buffer,
    detachKeys?: DetachKeysFilter,
    onDetach?: () => void,
    /** The client's end of input detaches (onDetach) instead of closing the container's stdin. */
    inputEndLeaves = false,
  ) {
    const take = (chunk: Buffer) => {
      if (this.detached) return;
      let bytes = chunk;
      if (detachKeys) {
        const { forward, detach } = detachKeys.push(chunk);
        bytes = forward;
        this.detached = detach;
      }
      if (bytes.length) {
        if (this.session) this.forward(this.session, bytes);
        else this.pending.push(bytes);
      }
      // Until the session exists (docker run: the container starts), the client waits, not our memory.
      if (!this.session && this.pending.reduce((sum, b) => sum + b.length, 0) > PENDING_STDIN_BYTES) socket.pause();
      if (this.detached) onDetach?.();
    };
    if (first.length) take(first);
    socket.on('data', take);
    socket.on('end', () => {
      // After a detach the input's end is not the container's.
      if (this.detached) return;
      if (inputEndLeaves) {
        this.detached = true;
        return onDetach?.();
      }
      this.ended = true;
      this.session?.closeStdin();
    });
  }

  connect(session: StreamSession) {
    if (this.detached) return session.close();
    this.session = session;
    this.socket.resume();
    for (const chunk of this.pending.splice(0)) this.forward(session, chunk);
    if (this.ended) session.closeStdin();
  }

  /** Out of the agent's credit, the client's socket is paused: the client waits, not our memory. */
  private forward(session: StreamSession, bytes: Buffer) {
    if (session.stdin(bytes)) return;
    this.socket.pause();
    void session.stdinDrained().then(() => this.socket.resume());
  }
}
