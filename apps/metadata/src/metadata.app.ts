import { BusTransport } from '@muelle/bus';
import { RunningService, ServiceInfo, startService } from '@muelle/service-kit';
import type { Logger } from 'pino';
import { MetadataConfig } from './config';
import { migrate, openDatabase } from './database/database';
import type { EmbeddedDatabase } from './database/embedded';
import { MetadataModule } from './metadata.module';

/**
 * Opens and migrates the database, then serves metadata over the bus. Used by main.ts and the
 * all-in-one; `embedded` is the embedded database when the caller already started opening it.
 */
export async function startMetadata(
  config: MetadataConfig,
  transport: BusTransport,
  logger: Logger,
  info: ServiceInfo,
  embedded?: Promise<EmbeddedDatabase>,
): Promise<RunningService> {
  const database = await openDatabase(config, logger, embedded);
  try {
    await migrate(database, logger);
    const running = await startService({
      info,
      transport,
      logger,
      host: config.MUELLE_BIND_HOST,
      port: config.MUELLE_METADATA_PORT,
      module: MetadataModule.forRoot(config, { info, transport, logger }, database.dataSource),
    });
    return {
      ...running,
      async close() {
        await running.close();
        await database.close();
      },
    };
  } catch (error) {
    await database.close();
    throw error;
  }
}
