// What the all-in-one process needs to host this service; nothing else may import an app.
// The service's modules load when it starts, not when this file is imported (see the metadata app's index).
import type { startApi as start } from './api.app';
export * from './config';

export async function startApi(...args: Parameters<typeof start>): ReturnType<typeof start> {
  return (await import('./api.app')).startApi(...args);
}
