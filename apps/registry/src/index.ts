// What the all-in-one process needs to host this service; nothing else may import an app.
// The service's modules load when it starts, not when this file is imported (see the metadata app's index).
import type { startRegistry as start } from './registry.app';
export * from './config';
export type { RunningRegistry } from './registry.app';

export async function startRegistry(...args: Parameters<typeof start>): ReturnType<typeof start> {
  return (await import('./registry.app')).startRegistry(...args);
}
