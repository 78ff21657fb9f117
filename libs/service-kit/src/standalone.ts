import { BusTransport } from '@muelle/bus';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { z } from 'zod';
import { natsBusOrExit, busConfigShape } from './bus-config';
import { busNamespace, exitOnConfigError, loadConfigOrExit } from './config';
import { serverTlsOf, trustCertificateAuthority } from './tls';
import { secureDataDir } from './data-dir';
import { tuneHeapForStreaming } from './heap';
import { createLogger } from './logger';
import { RunningService } from './bootstrap';
import { ServiceInfo } from './tokens';

export const MUELLE_VERSION = '0.1.0';

export function serviceInfo(service: ServiceInfo['service']): ServiceInfo {
  return { service, instance: `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`, version: MUELLE_VERSION };
}

type Starter<C> = (config: C, transport: BusTransport, logger: Logger, info: ServiceInfo) => Promise<RunningService>;

/**
 * main() of a service running alone: validated config (exit 2 naming the bad variable), NATS bus
 * with credentials (or MUELLE_BUS_INSECURE=true), JSON logs, graceful stop on SIGTERM/SIGINT.
 */
export function runStandalone<S extends z.ZodObject<z.ZodRawShape & { NATS_URL: z.ZodType<string>; MUELLE_LOG_LEVEL: z.ZodType<string> }>>(
  service: ServiceInfo['service'],
  schema: S,
  start: Starter<z.output<S>>,
): void {
  tuneHeapForStreaming();
  const config = loadConfigOrExit(service, schema);
  const { MUELLE_BUS_NAMESPACE: namespace, ...busSettings } = loadConfigOrExit(service, z.object({ MUELLE_BUS_NAMESPACE: busNamespace.optional(), ...busConfigShape }));
  const transport = natsBusOrExit(service, { ...busSettings, NATS_URL: config.NATS_URL as string }, namespace);
  prepareTlsOrExit(service, config);
  const logger = createLogger(service, config.MUELLE_LOG_LEVEL as string);
  const info = serviceInfo(service);
  if (typeof config.MUELLE_DATA_DIR === 'string') reportSecuredDataDir(secureDataDir(config.MUELLE_DATA_DIR), logger);
  start(config, transport, logger, info).then(
    (running) => stopOnSignals([running], logger),
    (error) => {
      logger.fatal({ err: error }, `${service} failed to start`);
      process.exit(1);
    },
  );
}

export function stopOnSignals(services: RunningService[], logger: Logger, onStopped?: () => void): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    // In order: the all-in-one passes metadata last, so nothing loses its database while stopping.
    (async () => {
      for (const service of services) await service.close().catch((error) => logger.error({ err: error }, 'stop failed'));
      onStopped?.();
      process.exit(0);
    })();
    setTimeout(() => process.exit(1), 10_000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

export function reportSecuredDataDir(secured: ReturnType<typeof secureDataDir>, logger: Logger): void {
  if (secured.previousMode !== undefined) {
    logger.warn({ dataDir: secured.path, was: secured.previousMode.toString(8), now: '700' }, 'data directory was open to other users; made it owner-only');
  }
}

/** Checks the certificate files before anything listens, and trusts MUELLE_TLS_CA for this process. */
export function prepareTlsOrExit(service: string, config: { MUELLE_TLS_CERT?: string; MUELLE_TLS_KEY?: string; MUELLE_TLS_CA?: string }): void {
  exitOnConfigError(service, () => {
    serverTlsOf(config);
    trustCertificateAuthority(config);
  });
}
