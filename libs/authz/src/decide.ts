import type { Action, Decision, Resource, Scope, Subject } from './model';

/** Repositories every signed-in user may pull; only admins write them. */
export const SHARED_REPOSITORY_PREFIX = 'library/';

const READS: ReadonlySet<Action> = new Set(['read', 'pull']);
const ALLOW: Decision = { allowed: true };

const notFound = (rule: string, reason: string): Decision => ({ allowed: false, outcome: 'not-found', rule, reason });
const forbidden = (rule: string, reason: string): Decision => ({ allowed: false, outcome: 'forbidden', rule, reason });

/** The team that owns a repository: the first component of `<team>/…`. */
export function repositoryTeam(name: string): string {
  const slash = name.indexOf('/');
  return slash < 0 ? name : name.slice(0, slash);
}

/** `library/…`, or marked shared by an admin. */
export function isSharedRepository(resource: { name: string; shared?: boolean }): boolean {
  return resource.name.startsWith(SHARED_REPOSITORY_PREFIX) || resource.shared === true;
}

/**
 * The one authorization decision of Muelle (SECURITY.md §1): may `subject` (null: anonymous) do
 * `action` on `resource`? Pure: everything it needs is in its arguments, so every door (the `/v1`
 * API, the Docker Engine API, the registry's token service) asks it with what it knows.
 *
 * Objects of another team answer `not-found`, so their existence does not leak; a refused action
 * on an object the subject may see answers `forbidden` naming the rule. A token's scopes only
 * narrow what the role allows, never widen it.
 */
export function decide(subject: Subject | null, action: Action, resource: Resource): Decision {
  if (!subject) return decideAnonymous(action, resource);
  const byRole = decideByRole(subject, action, resource);
  if (!byRole.allowed || subject.scopes === undefined) return byRole;
  return subject.scopes.some((scope) => scopeCovers(scope, action, resource))
    ? ALLOW
    : forbidden('token-scope', `the token's scopes do not include ${action} on ${describe(resource)}`);
}

function decideAnonymous(action: Action, resource: Resource): Decision {
  if (resource.kind === 'repository' && action === 'pull' && resource.anonymousPull === true) return ALLOW;
  return notFound('sign-in-required', 'sign in first');
}

function decideByRole(subject: Subject, action: Action, resource: Resource): Decision {
  if (subject.role === 'admin') return ALLOW;
  const reading = READS.has(action);
  const viewer = subject.role === 'viewer';
  const readOnly = () => forbidden('viewer-read-only', `${subject.name} is a viewer: viewers only read inside their team`);
  switch (resource.kind) {
    case 'repository': {
      const own = subject.teamName !== null && repositoryTeam(resource.name) === subject.teamName;
      const shared = isSharedRepository(resource);
      const visible = own || shared || resource.anonymousPull === true;
      if (!visible) return notFound('other-team', `no such repository: ${resource.name}`);
      if (reading) return ALLOW;
      if (action === 'update') return forbidden('admin-only', 'needs the admin role');
      if (!own) return forbidden('shared-repository-admin-write', `${resource.name} is shared: only admins write ${SHARED_REPOSITORY_PREFIX}… and shared repositories`);
      return viewer ? readOnly() : ALLOW;
    }
    case 'catalog':
      return reading ? ALLOW : forbidden('admin-only', 'needs the admin role');
    case 'container':
    case 'build':
    case 'volume':
    case 'network':
    case 'token': {
      if (subject.teamId === null) {
        return action === 'create' ? forbidden('no-team', `${subject.name} belongs to no team`) : notFound('other-team', `no such ${resource.kind}`);
      }
      if (resource.teamId !== subject.teamId) return notFound('other-team', `no such ${resource.kind}`);
      if (viewer && !reading) return readOnly();
      if (resource.kind === 'token' && resource.ownerId !== undefined && resource.ownerId !== subject.id && !reading) {
        return forbidden('token-owner-only', "only its owner or an admin changes a member's token");
      }
      return ALLOW;
    }
    case 'team':
      if (resource.teamId !== subject.teamId) return notFound('other-team', 'no such team');
      return reading ? ALLOW : forbidden('admin-only', 'needs the admin role');
    case 'user': {
      const self = resource.userId === subject.id;
      if (!self && (subject.teamId === null || resource.teamId !== subject.teamId)) return notFound('other-team', 'no such user');
      if (reading || (self && action === 'update')) return ALLOW;
      return forbidden('admin-only', 'needs the admin role');
    }
    case 'host':
    case 'system':
      return action === 'read' ? ALLOW : forbidden('admin-only', 'needs the admin role');
    case 'audit':
      return forbidden('admin-only', 'needs the admin role');
  }
}

function scopeCovers(scope: Scope, action: Action, resource: Resource): boolean {
  // Pulling a repository includes reading its settings.
  const granted = scope.actions.includes(action) || (action === 'read' && scope.actions.includes('pull'));
  if (scope.resource !== resource.kind || !granted) return false;
  if (resource.kind !== 'repository' || scope.pattern === undefined) return true;
  return scope.pattern.endsWith('*') ? resource.name.startsWith(scope.pattern.slice(0, -1)) : resource.name === scope.pattern;
}

function describe(resource: Resource): string {
  return resource.kind === 'repository' ? `repository ${resource.name}` : resource.kind;
}

/**
 * The team filter a listing of team-owned objects applies for `subject`: undefined when it sees
 * every team's objects (admins), else its team (null: a user without a team sees none).
 */
export function listingTeamId(subject: Subject): string | null | undefined {
  return subject.role === 'admin' && subject.scopes === undefined ? undefined : subject.teamId;
}
