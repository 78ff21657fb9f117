import { Action, decide, enforce, listingTeamId, RefusalWording, Resource, Subject, subjectFromPrincipal } from '@muelle/authz';
import type { Principal } from '@muelle/contracts';
import type { RegistryCredentials } from '@muelle/registry-client';

/** The caller of one request: who, in which team, and how to act for them against the registry. */
export interface RequestPrincipal extends Principal {
  /** What the registry's token service accepts for this user (password or `mle_` API token). */
  registryCredentials: { username: string; password: string };
}

export const SYSTEM_ACTOR = 'system';

export const subjectOf = (principal: Principal): Subject => subjectFromPrincipal(principal);

/**
 * Asks `decide()` and throws its refusal: 404 for another team's object (the door's own
 * not-found words), 403 naming the rule otherwise. Every `/v1` and Docker API check goes here.
 */
export function authorize(principal: Principal, action: Action, resource: Resource, wording: RefusalWording): void {
  enforce(decide(subjectOf(principal), action, resource), wording);
}

/** Platform administration (teams, users, the audit log, hosts): admins only. */
export function requireAdmin(principal: Principal, what: string): void {
  authorize(principal, 'update', { kind: 'system' }, { what, notFound: what });
}

/** The team filter for metadata queries: undefined = every team (admin). */
export function teamScope(principal: Principal): string | undefined {
  const team = listingTeamId(subjectOf(principal));
  return team === undefined ? undefined : (team ?? NO_TEAM);
}

/**
 * Whether an event is shown to the caller: host events are the platform's, for everybody; a
 * container's or image's event is decided by `decide()` as reading that team's containers (a
 * container of no team is an admin's: admins only).
 */
export function seesEvent(principal: Principal, event: { type: string; teamId: string | null }): boolean {
  if (event.type === 'host') return true;
  return decide(subjectOf(principal), 'read', { kind: 'container', teamId: event.teamId }).allowed;
}

// A team id no team has: users without a team list nothing.
const NO_TEAM = '00000000-0000-0000-0000-000000000000';

export type { RegistryCredentials };
