import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * Tracks what an HTTP server has open so a stop can end it in a bounded time:
 * requests in flight, connections (idle keep-alives included) and upgraded sockets
 * (Docker's hijacked attach/exec, WebSocket terminals), which Node no longer counts as requests.
 */
export class HttpDrain {
  private readonly inFlight = new Set<ServerResponse>();
  private readonly sockets = new Set<Socket>();
  private readonly upgraded = new Set<Duplex>();
  private draining = false;

  constructor(private readonly server: Server) {
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
      this.inFlight.add(res);
      res.once('close', () => this.inFlight.delete(res));
      // Tell keep-alive clients not to reuse a connection of a stopping server.
      if (this.draining) res.setHeader('Connection', 'close');
    });
    server.prependListener('upgrade', (_req: IncomingMessage, socket: Duplex) => {
      this.upgraded.add(socket);
      socket.once('close', () => this.upgraded.delete(socket));
      // Node destroys an upgrade nobody handles only when no listener exists; we are one, so do it for them.
      if (server.listenerCount('upgrade') === 1) socket.destroy();
    });
  }

  /** Open requests, for tests and logs. */
  get openRequests(): number {
    return this.inFlight.size;
  }

  /**
   * Stops accepting, ends streaming responses and upgraded sockets at once (their clients see a
   * clean end of stream and return), lets requests still sending or receiving bytes — uploads,
   * downloads with a known length — run until `deadline` (epoch ms), then cuts whatever is left.
   */
  async drain(deadline: number): Promise<{ cut: number }> {
    this.draining = true;
    this.server.close();
    this.server.closeIdleConnections();
    const endStreams = () => {
      for (const res of this.inFlight) if (isOpenEndedStream(res)) endStream(res);
      for (const socket of this.upgraded) if (!socket.writableEnded) socket.end();
    };
    endStreams();
    while (this.inFlight.size && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      // A request that was still in its handler when the stop began may have turned into a stream since.
      endStreams();
      this.server.closeIdleConnections();
    }
    const cut = this.inFlight.size;
    for (const socket of [...this.sockets, ...this.upgraded]) socket.destroy();
    return { cut };
  }
}

/**
 * A response whose length nobody knows (chunked: `logs -f`, `events`, SSE, build progress) and
 * whose request is fully read: it only ends when we end it. Responses with a Content-Length (blob
 * downloads) are left to finish, since ending them early would hand the client a short body.
 */
function isOpenEndedStream(res: ServerResponse): boolean {
  return res.headersSent && !res.writableEnded && res.getHeader('content-length') === undefined && res.req.complete;
}

/**
 * Ends the chunked body properly (the client sees a complete response) and turns the handler's
 * later writes into no-ops: a write after end would otherwise raise an uncaught error.
 */
function endStream(res: ServerResponse): void {
  if (res.writableEnded) return;
  const end = res.end.bind(res);
  res.write = (() => false) as ServerResponse['write'];
  res.end = ((...args: unknown[]) => {
    const callback = args.find((a) => typeof a === 'function') as (() => void) | undefined;
    callback?.();
    return res;
  }) as ServerResponse['end'];
  end();
}
