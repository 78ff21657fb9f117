import type { RegistryCredentials } from './registry-client';

/**
 * Which credentials a pull or push from `registry` (host:port) may carry. Muelle's own registry
 * gets the user's Muelle credentials; any other registry only credentials given for it
 * explicitly (X-Registry-Auth, --registry-user/--registry-password), else none. One rule for the
 * agent, the builder and the api.
 */
export interface CredentialSources {
  /** host:port of Muelle's registry (MUELLE_REGISTRY_ADDRESS). */
  ownRegistry: string;
  /** The user's Muelle login or token: only ever for `ownRegistry`. */
  own?: RegistryCredentials;
  /** Credentials given for named registries (host:port → credentials). */
  explicit?: Readonly<Record<string, RegistryCredentials>>;
}

export function credentialsFor(registry: string, sources: CredentialSources): RegistryCredentials | undefined {
  const host = registry.toLowerCase();
  const explicit = Object.entries(sources.explicit ?? {}).find(([name]) => name.toLowerCase() === host)?.[1];
  if (explicit) return explicit;
  return host === sources.ownRegistry.toLowerCase() ? sources.own : undefined;
}
