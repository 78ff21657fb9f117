import { createServer, Server, Socket, connect } from 'node:net';
import { freePort } from './ports';

/**
 * A TCP proxy in front of a real server (NATS, PostgreSQL), so a test can cut the link and
 * restore it — the same as the server going away and coming back — without touching the
 * server that other tests share.
 */
export class TcpProxy {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async start(port?: number): Promise<number> {
    this.port = port ?? (this.port || (await freePort()));
    this.server = createServer((client) => {
      const upstream = connect(this.targetPort, this.targetHost);
      this.track(client);
      this.track(upstream);
      client.pipe(upstream).pipe(client);
      const destroyBoth = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', destroyBoth).on('close', destroyBoth);
      upstream.on('error', destroyBoth).on('close', destroyBoth);
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.port, '127.0.0.1', () => resolve());
    });
    return this.port;
  }

  /** Drops every connection and stops accepting new ones; the port stays reserved for restart(). */
  async cut(): Promise<void> {
    await new Promise<void>((resolve) => {
      if (!this.server) return resolve();
      this.server.close(() => resolve());
      for (const socket of this.sockets) socket.destroy();
    });
    this.server = undefined;
  }

  async restore(): Promise<void> {
    await this.start(this.port);
  }

  async stop(): Promise<void> {
    await this.cut();
  }

  private track(socket: Socket) {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
  }
}
