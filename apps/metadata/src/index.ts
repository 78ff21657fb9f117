// What the all-in-one process needs to host this service; nothing else may import an app.
// The service's modules load when it starts (not when this file is imported): the all-in-one reads
// every service's configuration, takes the data folder's lock and starts opening the embedded
// database first, so that opening runs while the modules load.
import type { startMetadata as start } from './metadata.app';
export * from './config';
export { startEmbeddedDatabase, type EmbeddedDatabase } from './database/embedded';

export async function startMetadata(...args: Parameters<typeof start>): ReturnType<typeof start> {
  return (await import('./metadata.app')).startMetadata(...args);
}
