import { BusTransport } from '@muelle/bus';
import { RunningService, serverTlsOf, ServiceInfo, startService } from '@muelle/service-kit';
import type { Logger } from 'pino';
import { ApiModule } from './api.module';
import { ApiSettings } from './config';

export function startApi(config: ApiSettings, transport: BusTransport, logger: Logger, info: ServiceInfo): Promise<RunningService> {
  return startService({
    info,
    transport,
    logger,
    host: config.MUELLE_BIND_HOST,
    port: config.MUELLE_API_PORT,
    tls: serverTlsOf(config),
    module: ApiModule.forRoot({ info, transport, logger }, config),
  });
}
