/**
 * The vocabulary of Muelle's authorization model (see SECURITY.md). Pure types: every door — the
 * `/v1` controllers, the Docker Engine API, the registry's token service, the builder and the
 * agent — describes its request with these and asks one decision function.
 */

/** `admin` may do anything; `member` acts inside its team; `viewer` only reads inside its team. */
export type Role = 'admin' | 'member' | 'viewer';

/**
 * Who asks. A user session, a user's API token, or a robot token (owned by a team, not a person).
 * `scopes` narrows what the subject may do below its role (scoped and robot tokens); undefined
 * means the full rights of the role.
 */
export interface Subject {
  /** User id, or the robot token's id. */
  id: string;
  name: string;
  kind: 'user' | 'robot';
  role: Role;
  teamId: string | null;
  teamName: string | null;
  scopes?: readonly Scope[];
}

/** A token scope: which actions on which repositories (glob with a trailing `*`, e.g. `alpha/*`). */
export interface Scope {
  resource: ResourceKind;
  /** Repository pattern for `repository` scopes; ignored for other kinds. */
  pattern?: string;
  actions: readonly Action[];
}

export type ResourceKind = 'repository' | 'catalog' | 'container' | 'build' | 'volume' | 'network' | 'token' | 'team' | 'user' | 'host' | 'audit' | 'system';

export type Action = 'read' | 'pull' | 'push' | 'delete' | 'create' | 'update' | 'exec';

/**
 * What is acted on. Team-owned objects carry their owner; repositories carry their name (the
 * owner is the first path component, `library/…` and admin-marked shared repositories are shared)
 * and, when the door knows them, their settings (`shared`, `anonymousPull`).
 */
export type Resource =
  | { kind: 'repository'; name: string; shared?: boolean; anonymousPull?: boolean }
  | { kind: 'catalog' }
  | { kind: 'container' | 'build' | 'volume' | 'network' | 'token'; teamId: string | null; ownerId?: string }
  | { kind: 'team'; teamId: string }
  | { kind: 'user'; userId: string; teamId: string | null }
  | { kind: 'host' | 'audit' | 'system' };

/**
 * The outcome. `not-found` hides another team's object (answer 404), `forbidden` is a refused
 * action on something the subject may see (answer 403 naming `rule`). `reason` is the sentence
 * the door shows.
 */
export type Decision = { allowed: true } | { allowed: false; outcome: 'not-found' | 'forbidden'; rule: string; reason: string };
