import { MUELLE_VERSION } from '@muelle/contracts';
import { BusTransport } from '@muelle/bus';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { z } from 'zod';
import { applyStreamLiveness, natsBusOrExit, busConfigShape } from './bus-config';
import { busNamespace, DEFAULT_STOP_TIMEOUT_SECONDS, exitOnConfigError, loadConfigOrExit, stopConfigShape } from './config';
import { serverTlsOf, trustCertificateAuthority } from './tls';
import { DataDirLock, DataDirLockedError, lockDataDir, secureDataDir } from './data-dir';
import { tuneHeapForStreaming } from './heap';
import { createLogger } from './logger';
import { RunningService } from './bootstrap';
import { ServiceInfo } from './tokens';

export { MUELLE_VERSION };

export function serviceInfo(service: ServiceInfo['service']): ServiceInfo {
  return { service, instance: `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`, version: MUELLE_VERSION };
}

type Starter<C> = (config: C, transport: BusTransport, logger: Logger, info: ServiceInfo) => Promise<RunningService>;

/** Services that keep state in MUELLE_DATA_DIR: each takes its own lock there (`muelle-<service>.lock`). */
const SERVICES_WITH_STATE: ServiceInfo['service'][] = ['metadata', 'registry', 'builder', 'agent'];
export const ALL_IN_ONE_LOCK_CONFLICTS = SERVICES_WITH_STATE.map((service) => `muelle-${service}`);

/**
 * main() of a service running alone: validated config (exit 2 naming the bad variable), the data
 * folder's lock (exit 3 naming the pid holding it), NATS bus with credentials (or
 * MUELLE_BUS_INSECURE=true), JSON logs, graceful stop on SIGTERM/SIGINT.
 */
export function runStandalone<S extends z.ZodObject<z.ZodRawShape & { NATS_URL: z.ZodType<string>; MUELLE_LOG_LEVEL: z.ZodType<string> }>>(
  service: ServiceInfo['service'],
  schema: S,
  start: Starter<z.output<S>>,
): void {
  tuneHeapForStreaming();
  const config = loadConfigOrExit(service, schema);
  const { MUELLE_BUS_NAMESPACE: namespace, MUELLE_STOP_TIMEOUT_SECONDS: stopTimeoutSeconds, ...busSettings } = loadConfigOrExit(
    service,
    z.object({ MUELLE_BUS_NAMESPACE: busNamespace.optional(), ...busConfigShape, ...stopConfigShape }),
  );
  const transport = natsBusOrExit(service, { ...busSettings, NATS_URL: config.NATS_URL as string }, namespace);
  exitOnConfigError(service, () => applyStreamLiveness(busSettings));
  prepareTlsOrExit(service, config);
  const logger = createLogger(service, config.MUELLE_LOG_LEVEL as string);
  const info = serviceInfo(service);
  const dataDir = typeof config.MUELLE_DATA_DIR === 'string' ? config.MUELLE_DATA_DIR : undefined;
  if (dataDir) reportSecuredDataDir(secureDataDir(dataDir), logger);
  // Several services may share one folder on a host, but never two copies of one service, nor an all-in-one.
  const lock = dataDir && keepsStateOnDisk(service, config) ? lockDataDirOrExit(dataDir, { name: `muelle-${service}`, conflictsWith: ['muelle'] }, logger) : undefined;
  start(config, transport, logger, info).then(
    (running) => stopOnSignals([running], logger, { timeoutSeconds: stopTimeoutSeconds, onStopped: () => lock?.release() }),
    (error) => {
      logger.fatal({ err: error }, `${service} failed to start`);
      lock?.release();
      process.exit(1);
    },
  );
}

/** Metadata on a PostgreSQL server and a registry on S3 keep nothing on disk: their replicas may share a folder. */
function keepsStateOnDisk(service: ServiceInfo['service'], config: Record<string, unknown>): boolean {
  if (service === 'metadata') return !config.DATABASE_URL;
  if (service === 'registry') return config.MUELLE_STORAGE_DRIVER !== 's3';
  return SERVICES_WITH_STATE.includes(service);
}

/** Takes the data folder's lock, or exits 3 with one line naming the process holding it. */
export function lockDataDirOrExit(dataDir: string, options: Parameters<typeof lockDataDir>[1], logger: Logger): DataDirLock {
  try {
    const lock = lockDataDir(dataDir, options);
    if (lock.tookOverStale) logger.warn({ dataDir }, 'the previous process on this data directory did not stop cleanly; recovering');
    return lock;
  } catch (error) {
    if (error instanceof DataDirLockedError) {
      process.stderr.write(`muelle: ${error.message}\n`);
      process.exit(3);
    }
    throw error;
  }
}

/**
 * Graceful stop on SIGTERM/SIGINT, bounded by `timeoutSeconds`: every service stops accepting and
 * ends its streams at once, uploads get until 2 s before the bound, then services close in the
 * order given (the all-in-one passes metadata last, so nothing loses its database while stopping),
 * `onStopped` releases the lock and the process exits 0. A second signal or the bound forces exit 1
 * — after releasing the lock, and anything left on disk is cleaned by the next start.
 */
export function stopOnSignals(services: RunningService[], logger: Logger, options: { timeoutSeconds?: number; onStopped?: () => void } = {}): void {
  const timeoutMs = (options.timeoutSeconds ?? DEFAULT_STOP_TIMEOUT_SECONDS) * 1000;
  let stopping = false;
  const forceExit = (reason: string) => {
    logger.warn({ reason }, 'forced exit');
    options.onStopped?.();
    process.exit(1);
  };
  const stop = (signal: string) => {
    if (stopping) return forceExit(`second ${signal}`);
    stopping = true;
    const started = Date.now();
    logger.info({ signal, timeoutSeconds: timeoutMs / 1000 }, 'stopping');
    setTimeout(() => forceExit(`not stopped within ${timeoutMs / 1000} s`), timeoutMs).unref();
    (async () => {
      const drainDeadline = started + Math.max(timeoutMs - 2_000, timeoutMs / 2);
      const drained = await Promise.all(services.map((service) => service.drain(drainDeadline).catch((error) => (logger.error({ err: error }, 'drain failed'), { cut: 0 }))));
      const cut = drained.reduce((sum, d) => sum + d.cut, 0);
      if (cut) logger.warn({ requests: cut }, 'requests still open at the stop deadline were cut');
      for (const service of services) await service.close().catch((error) => logger.error({ err: error }, 'stop failed'));
      options.onStopped?.();
      logger.info({ ms: Date.now() - started }, 'stopped');
      process.exit(0);
    })();
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
