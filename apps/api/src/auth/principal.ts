import { NotFoundError, PermissionDeniedError, Principal } from '@muelle/contracts';
import type { RegistryCredentials } from '@muelle/registry-client';

/** The caller of one request: who, in which team, and how to act for them against the registry. */
export interface RequestPrincipal extends Principal {
  /** What the registry's token service accepts for this user (password or `mle_` API token). */
  registryCredentials: { username: string; password: string };
}

export const SYSTEM_ACTOR = 'system';

export const isAdmin = (principal: Principal) => principal.user.role === 'admin';

/** The team filter for metadata queries: undefined = everything (admin). */
export function teamScope(principal: Principal): string | undefined {
  return isAdmin(principal) ? undefined : (principal.teamId ?? '00000000-0000-0000-0000-000000000000');
}

export function requireAdmin(principal: Principal, what: string): void {
  if (!isAdmin(principal)) throw new PermissionDeniedError(`${what} needs the admin role`);
}

/** Members own the repositories under their team's name (`<team>/…`). */
export function ownsRepository(principal: Principal, repository: string): boolean {
  if (isAdmin(principal)) return true;
  return !!principal.teamName && (repository === principal.teamName || repository.startsWith(`${principal.teamName}/`));
}

/** Reading another team's repository answers 404, so its existence does not leak. */
export function requireReadableRepository(principal: Principal, repository: string, reference: string): void {
  if (!ownsRepository(principal, repository)) throw new NotFoundError(`no such image: ${reference}`);
}

export function requireWritableRepository(principal: Principal, repository: string): void {
  if (!ownsRepository(principal, repository)) {
    throw new PermissionDeniedError(
      principal.teamName ? `team ${principal.teamName} may only write repositories under "${principal.teamName}/"` : 'a user without a team cannot write repositories',
      { field: 'image' },
    );
  }
}

export type { RegistryCredentials };
