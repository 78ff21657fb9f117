import { BusTransport } from '@muelle/bus';
import { RunningService, ServiceInfo, startService } from '@muelle/service-kit';
import type { Logger } from 'pino';
import { RegistryConfig } from './config';
import { RegistryModule } from './registry.module';

export function startRegistry(config: RegistryConfig, transport: BusTransport, logger: Logger, info: ServiceInfo): Promise<RunningService> {
  return startService({
    info,
    transport,
    logger,
    host: config.MUELLE_BIND_HOST,
    port: config.MUELLE_REGISTRY_PORT,
    // Blob uploads are streamed to storage, never parsed or buffered by a body parser.
    bodyParser: false,
    module: RegistryModule.forRoot(config, { info, transport, logger }),
  });
}
