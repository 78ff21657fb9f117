import { BusTransport } from '@muelle/bus';
import { RunningService, ServiceInfo, startService } from '@muelle/service-kit';
import type { Logger } from 'pino';
import { BuilderModule } from './builder.module';
import { BuilderConfig } from './config';

export function startBuilder(config: BuilderConfig, transport: BusTransport, logger: Logger, info: ServiceInfo): Promise<RunningService> {
  return startService({
    info,
    transport,
    logger,
    host: config.MUELLE_BIND_HOST,
    port: config.MUELLE_BUILDER_PORT,
    module: BuilderModule.forRoot({ info, transport, logger }, config),
  });
}
