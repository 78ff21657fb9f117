import { PermissionDeniedError, Principal, ScopeAction, ScopeResource } from '@muelle/contracts';
import { z } from 'zod';

type Kind = z.infer<typeof ScopeResource>;
type Action = z.infer<typeof ScopeAction>;

/** The first path segment of a /v1 or Docker Engine API route → what kind of object it acts on. */
const KIND_OF_SEGMENT: Record<string, Kind | 'any'> = {
  containers: 'container',
  exec: 'container',
  events: 'container',
  images: 'repository',
  repositories: 'repository',
  build: 'build',
  builds: 'build',
  hosts: 'host',
  teams: 'team',
  users: 'user',
  auth: 'token',
  audit: 'audit',
  // Who-am-I and the engine's identity pages name nothing a scope guards.
  me: 'any',
  info: 'any',
  version: 'any',
  _ping: 'any',
};

/** On repositories the registry's actions stand for reading and changing. */
const REPOSITORY_ACTION: Record<Action, Action> = { read: 'pull', pull: 'pull', create: 'push', update: 'push', push: 'push', exec: 'push', delete: 'delete' };

/**
 * A coarse first gate for scoped and robot tokens on the api (SECURITY.md § 5): the request's kind
 * of object and action must be named by one of the token's scopes. Repository names are checked
 * by the registry itself when the api acts with the token's credentials. Unscoped principals pass.
 */
export function scopeRefusal(principal: Principal, method: string, path: string): string | null {
  if (!principal.scopes) return null;
  const segments = path.split('?')[0].split('/').filter(Boolean);
  const rest = segments[0] === 'v1' || segments[0] === 'docker-engine' ? segments.slice(1) : segments;
  // Docker's versioned paths (/docker-engine/v1.43/containers/json) carry the version first.
  if (rest[0] && /^v\d+\.\d+$/.test(rest[0])) rest.shift();
  const kind = KIND_OF_SEGMENT[rest[0] ?? ''];
  if (kind === 'any') return null;
  if (!kind) return `a scoped token may not use ${method} ${path}`;
  const verb = method.toUpperCase();
  const action: Action =
    verb === 'GET' || verb === 'HEAD' ? 'read' : verb === 'DELETE' ? 'delete' : rest.includes('exec') || rest.includes('attach') || rest.includes('archive') || rest[0] === 'exec' ? 'exec' : rest.length === 1 || rest[1] === 'create' ? 'create' : 'update';
  const needed = kind === 'repository' ? REPOSITORY_ACTION[action] : action;
  const ok = principal.scopes.some((s) => s.resource === kind && s.actions.includes(needed));
  return ok ? null : `this token's scopes do not allow ${needed} on ${kind} (${verb} ${path})`;
}

export function requireScopes(principal: Principal, method: string, path: string): void {
  const reason = scopeRefusal(principal, method, path);
  if (reason) throw new PermissionDeniedError(reason, { rule: 'token-scope' });
}
