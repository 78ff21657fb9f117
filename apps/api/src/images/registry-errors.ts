import { MuelleError, NotFoundError, PermissionDeniedError, UnavailableError } from '@muelle/contracts';
import { RegistryAuthError, RegistryError, RegistryNotFoundError, RegistryUnreachableError } from '@muelle/registry-client';

/** Registry-client failures as platform errors (404 stays 404, refusals become 403, outages 503), for every image service of the api. */
export async function registryCall<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof MuelleError) throw error;
    if (error instanceof RegistryNotFoundError) throw new NotFoundError(error.message);
    if (error instanceof RegistryAuthError) throw new PermissionDeniedError(`registry refused: ${error.message}`);
    if (error instanceof RegistryUnreachableError) throw new UnavailableError(error.message);
    if (error instanceof RegistryError) throw new UnavailableError(`registry error: ${error.message}`, { status: error.status, code: error.code });
    throw error;
  }
}
