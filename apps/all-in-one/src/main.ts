import 'reflect-metadata';
import { BusTransport, InProcessBroker } from '@muelle/bus';
import {
  ALL_IN_ONE_LOCK_CONFLICTS,
  applyStreamLiveness,
  createLogger,
  exitOnConfigError,
  loadConfigOrExit,
  lockDataDirOrExit,
  natsBusOrExit,
  prepareTlsOrExit,
  reportSecuredDataDir,
  RunningService,
  secureDataDir,
  serviceInfo,
  stopOnSignals,
  tuneHeapForStreaming,
} from '@muelle/service-kit';
import { resolve } from 'node:path';
import { startAgent } from '@muelle/app-agent';
import { startApi } from '@muelle/app-api';
import { startBuilder } from '@muelle/app-builder';
import { EmbeddedDatabase, startEmbeddedDatabase, startMetadata } from '@muelle/app-metadata';
import { startRegistry } from '@muelle/app-registry';
import { allInOneConfigSchema } from './config';

/** Muelle on one machine: all five services in one process, one data directory, no external service needed. */
async function main(): Promise<void> {
  tuneHeapForStreaming();
  const config = loadConfigOrExit('all-in-one', allInOneConfigSchema);
  const logger = createLogger('all-in-one', config.MUELLE_LOG_LEVEL);
  const dataDir = resolve(config.MUELLE_DATA_DIR);
  reportSecuredDataDir(secureDataDir(dataDir), logger);
  prepareTlsOrExit('all-in-one', config);
  // Held before anything touches the folder: whatever a crash left there is then ours to clean.
  const lock = lockDataDirOrExit(dataDir, { conflictsWith: ALL_IN_ONE_LOCK_CONFLICTS }, logger);
  exitOnConfigError('all-in-one', () => applyStreamLiveness(config));
  // The in-process bus needs no credentials; NATS gets the same rules as the standalone services.
  const transport: BusTransport = config.NATS_URL
    ? natsBusOrExit('all-in-one', { ...config, NATS_URL: config.NATS_URL }, config.MUELLE_BUS_NAMESPACE)
    : { kind: 'in-process', broker: new InProcessBroker() };
  // One registry address for every service: the api's rule (this machine, the registry's port) unless set.
  const shared = { ...config, MUELLE_DATA_DIR: dataDir, MUELLE_REGISTRY_ADDRESS: config.MUELLE_REGISTRY_ADDRESS ?? `127.0.0.1:${config.MUELLE_REGISTRY_PORT}` };
  const started: RunningService[] = [];
  const metadataLogger = logger.child({ service: 'metadata' });
  // The embedded database opens while the services' modules load (each app's index loads them
  // lazily): its file reads and WebAssembly compilation overlap them instead of following them.
  const embedded: Promise<EmbeddedDatabase> | undefined = config.DATABASE_URL ? undefined : startEmbeddedDatabase(dataDir, metadataLogger);
  // Handled by startMetadata, which awaits it; this only keeps a failure from being reported as unhandled before that.
  embedded?.catch(() => undefined);
  try {
    // Metadata first: it owns the database the others ask about.
    started.push(await startMetadata(shared, transport, metadataLogger, serviceInfo('metadata'), embedded));
    started.push(
      ...(await Promise.all([
        startRegistry(shared, transport, logger.child({ service: 'registry' }), serviceInfo('registry')),
        startBuilder(shared, transport, logger.child({ service: 'builder' }), serviceInfo('builder')),
        startAgent(shared, transport, logger.child({ service: 'agent' }), serviceInfo('agent')),
        startApi(shared, transport, logger.child({ service: 'api' }), serviceInfo('api')),
      ])),
    );
  } catch (error) {
    logger.fatal({ err: error }, 'muelle failed to start');
    await Promise.allSettled(started.map((s) => s.close()));
    lock.release();
    process.exit(1);
  }
  logger.info(
    { dataDir, bus: transport.kind, services: Object.fromEntries(started.map((s) => [s.info.service, s.url])) },
    'muelle is up',
  );
  stopOnSignals([...started].reverse(), logger, { timeoutSeconds: config.MUELLE_STOP_TIMEOUT_SECONDS, onStopped: () => lock.release() });
}

void main();
