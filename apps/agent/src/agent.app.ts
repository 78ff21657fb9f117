import { BusTransport } from '@muelle/bus';
import { RunningService, ServiceInfo, startService } from '@muelle/service-kit';
import type { Logger } from 'pino';
import { AgentModule } from './agent.module';
import { AgentConfig } from './config';

export function startAgent(config: AgentConfig, transport: BusTransport, logger: Logger, info: ServiceInfo): Promise<RunningService> {
  return startService({
    info,
    transport,
    logger,
    host: config.MUELLE_BIND_HOST,
    port: config.MUELLE_AGENT_PORT,
    module: AgentModule.forRoot(config, { info, transport, logger }),
  });
}
