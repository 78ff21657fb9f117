import type { Principal } from '@muelle/contracts';
import type { Subject } from './model';

/**
 * The authorization subject for a principal that metadata resolved (user session, API token, or a
 * team's robot token). Scoped and robot tokens carry their `scopes`; a user session has none.
 */
export function subjectFromPrincipal(principal: Principal): Subject {
  return {
    id: principal.user.id,
    name: principal.user.username,
    kind: principal.kind ?? 'user',
    role: principal.user.role,
    teamId: principal.teamId,
    teamName: principal.teamName,
    ...(principal.scopes ? { scopes: principal.scopes } : {}),
  };
}
