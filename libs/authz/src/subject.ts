import type { Principal } from '@muelle/contracts';
import type { Subject } from './model';

/** The authorization subject for a principal that metadata resolved (user session or API token). */
export function subjectFromPrincipal(principal: Principal): Subject {
  return {
    id: principal.user.id,
    name: principal.user.username,
    kind: 'user',
    role: principal.user.role,
    teamId: principal.teamId,
    teamName: principal.teamName,
  };
}
