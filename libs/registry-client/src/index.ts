import { HttpRegistryClient } from './http-registry-client';
import { RegistryClient, RegistryClientOptions } from './registry-client';

export * from './registry-client';
export * from './errors';
export * from './auth';
export * from './auth-selection';
export * from './copy-image';
export { HttpRegistryClient, MANIFEST_ACCEPT, verifyingStream, digestFor } from './http-registry-client';

export function createRegistryClient(options: RegistryClientOptions): RegistryClient {
  return new HttpRegistryClient(options);
}
