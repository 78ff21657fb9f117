import { BusTransport } from '@muelle/bus';
import { RunningService, serverTlsOf, ServiceInfo, startService } from '@muelle/service-kit';
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import { RegistryConfig } from './config';
import { GarbageCollectorService } from './gc/garbage-collector.service';
import { RegistryModule } from './registry.module';
import { openRegistryBlobStore } from './storage/blob-store.provider';

export interface RunningRegistry extends RunningService {
  /** Runs one garbage collection pass now (tests, operators). */
  collectGarbage: GarbageCollectorService['run'];
}

export async function startRegistry(config: RegistryConfig, transport: BusTransport, logger: Logger, info: ServiceInfo): Promise<RunningRegistry> {
  const store = await openRegistryBlobStore(config, logger);
  const running = await startService({
    info,
    transport,
    logger,
    host: config.MUELLE_BIND_HOST,
    port: config.MUELLE_REGISTRY_PORT,
    tls: serverTlsOf(config),
    // Blob uploads are streamed to storage, never parsed or buffered by a body parser.
    bodyParser: false,
    module: RegistryModule.forRoot(config, { info, transport, logger }, store),
  });
  // A multi-gigabyte layer over a slow link takes longer than Node's 5-minute default request timeout.
  const server = running.app.getHttpServer() as Server;
  server.requestTimeout = 0;
  server.keepAliveTimeout = 65_000;
  const gc = running.app.get(GarbageCollectorService);
  return { ...running, collectGarbage: (options) => gc.run(options) };
}
