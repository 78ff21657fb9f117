import { Inject, Injectable } from '@nestjs/common';
import { PermissionDeniedError, UnavailableError, type RegistryAuth } from '@muelle/contracts';
import { parseReference } from '@muelle/oci';
import { HttpRegistryClient, RegistryAuthError, registryEndpoint } from '@muelle/registry-client';
import { insecureRegistriesOf } from '@muelle/service-kit';
import { API_CONFIG, ApiConfig } from '../config';
import { RequestPrincipal } from './principal';

/**
 * What the api hands an agent so it can pull for a user: never the user's password or API token,
 * only a registry token that pulls the one repository, expires with the registry's token lifetime
 * (MUELLE_REGISTRY_TOKEN_TTL_SECONDS) and is worthless anywhere else.
 */
@Injectable()
export class RegistryTokens {
  constructor(@Inject(API_CONFIG) private readonly config: ApiConfig) {}

  /**
   * A pull token for `image` when it lives in Muelle's registry; undefined for any other registry
   * (the user's Muelle credentials are never sent elsewhere) and when the registry has token
   * authentication off (anyone may pull then).
   */
  async pullAuth(principal: Pick<RequestPrincipal, 'registryCredentials'>, image: string): Promise<RegistryAuth | undefined> {
    const reference = parseReference(image, this.config.MUELLE_REGISTRY_ADDRESS);
    if (reference.registry !== this.config.MUELLE_REGISTRY_ADDRESS) return undefined;
    const client = new HttpRegistryClient({
      ...registryEndpoint(reference.registry, insecureRegistriesOf(this.config.MUELLE_INSECURE_REGISTRIES)),
      credentials: principal.registryCredentials,
      userAgent: 'muelle-api-tokens',
    });
    try {
      return { token: await client.bearerToken(`repository:${reference.repository}:pull`) };
    } catch (error) {
      if (error instanceof RegistryAuthError && /issued no token/.test(error.message)) return undefined;
      if (error instanceof RegistryAuthError) throw new PermissionDeniedError(`the registry refused a pull token for ${reference.repository}: ${error.message}`);
      throw new UnavailableError(`no pull token from the registry ${reference.registry}: ${(error as Error).message}`);
    }
  }
}
