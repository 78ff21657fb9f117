import { INestApplication, Type, DynamicModule } from '@nestjs/common';
import type { HttpsOptions } from '@nestjs/common/interfaces/external/https-options.interface';
import { NestFactory } from '@nestjs/core';
import { BusClient, BusTransport, createBusServer, describeTransport } from '@muelle/bus';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { AddressInfo } from 'node:net';
import { exitOnRefusedBus, isBusAuthorizationError } from './bus-config';
import { HttpDrain } from './graceful-stop';
import { installInputGuard } from './input-guard';
import { PinoNestLogger } from './logger';
import { ServiceMetrics } from './metrics';
import { ServerTls } from './tls';
import { ServiceInfo } from './tokens';

export interface StartServiceOptions {
  info: ServiceInfo;
  module: Type<unknown> | DynamicModule;
  transport: BusTransport;
  logger: Logger;
  host: string;
  port: number;
  /** Off for services that stream request bodies themselves and check their own input (the registry's /v2). */
  bodyParser?: boolean;
  /** Serve HTTPS (upgrades, WebSockets and hijacked streams included) instead of HTTP. */
  tls?: ServerTls;
}

export interface RunningService {
  info: ServiceInfo;
  app: INestApplication;
  url: string;
  port: number;
  /** Stops accepting and ends open HTTP work by `deadline` (epoch ms); see HttpDrain. */
  drain(deadline: number): Promise<{ cut: number }>;
  close(): Promise<void>;
}

/**
 * Starts one service: HTTP first (so /healthz answers at once), then the bus in the background;
 * /readyz reports not-ready until the bus and the service's own dependencies answer.
 */
export async function startService(options: StartServiceOptions): Promise<RunningService> {
  const { info, logger } = options;
  const app = await NestFactory.create(options.module, {
    logger: new PinoNestLogger(logger.child({ component: 'nest' })),
    bodyParser: options.bodyParser ?? true,
    abortOnError: false,
    // allowHalfOpen as plain HTTP has it: the docker CLI ends its half of a hijacked stream (TLS
    // close_notify) and still reads the container's output; Node's TLS default would close both.
    ...(options.tls ? { httpsOptions: { cert: options.tls.cert, key: options.tls.key, allowHalfOpen: true } as HttpsOptions } : {}),
  });
  app.getHttpAdapter().getInstance().disable('x-powered-by');
  const httpDrain = new HttpDrain(app.getHttpServer());
  if (options.bodyParser ?? true) installInputGuard(app);
  const metrics = app.get(ServiceMetrics);
  app.use(httpMetrics(metrics));
  app.connectMicroservice({ strategy: createBusServer(options.transport, info.service) }, { inheritAppConfig: true });
  await app.listen(options.port, options.host);
  const port = (app.getHttpServer().address() as AddressInfo).port;
  const url = `${options.tls ? 'https' : 'http'}://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`;
  logger.info({ url, bus: describeTransport(options.transport) }, `${info.service} listening`);

  const bus = app.get(BusClient);
  const busReady = Promise.all([app.startAllMicroservices(), bus.connect()]).then(
    () => logger.info('bus connected'),
    (error) => {
      logger.error({ err: error }, 'bus connection failed');
      if (isBusAuthorizationError(error)) exitOnRefusedBus(info.service, error);
    },
  );

  return {
    info,
    app,
    url,
    port,
    drain: (deadline) => httpDrain.drain(deadline),
    async close() {
      // Idempotent: after a stop's drain this returns at once; called alone it still never waits on a client.
      await httpDrain.drain(Date.now() + 1_000);
      await Promise.race([busReady, new Promise((r) => setTimeout(r, 100))]);
      await bus.close().catch(() => undefined); // stopping: a bus that fails to close has nothing left to deliver
      await app.close();
    },
  };
}

function httpMetrics(metrics: ServiceMetrics) {
  return (req: Request, res: Response, next: NextFunction) => {
    const stop = metrics.httpDuration.startTimer();
    res.on('finish', () => {
      // Route templates, not raw paths, keep label cardinality bounded.
      const route = (req.route?.path as string | undefined) ?? (res.statusCode === 404 ? 'unmatched' : req.baseUrl || 'other');
      stop({ method: req.method, route });
      metrics.httpRequests.inc({ method: req.method, route, status: String(res.statusCode) });
      if (res.statusCode >= 500) metrics.errors.inc({ kind: 'http_5xx' });
    });
    next();
  };
}
