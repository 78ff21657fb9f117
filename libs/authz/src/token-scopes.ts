import { ScopeAction, ScopeResource, TokenScope } from '@muelle/contracts';
import type { Action, ResourceKind } from './model';
export { formatScope } from './scope-format';

/** Actions that make sense on each kind of object; anything else is refused when a token is made. */
const REPOSITORY_ACTIONS: readonly Action[] = ['pull', 'push', 'delete'];
const OBJECT_ACTIONS: readonly Action[] = ['read', 'create', 'update', 'delete', 'exec'];

export class ScopeSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScopeSyntaxError';
  }
}

/**
 * Parses the wire form of a token scope: `repository:<name or prefix*>:<actions>` (e.g.
 * `repository:alpha/*:pull,push`) or `<kind>:<actions>` (e.g. `container:read,exec`).
 */
export function parseScope(text: string): TokenScope {
  const parts = text.trim().split(':');
  const kind = ScopeResource.safeParse(parts[0]);
  if (!kind.success) throw new ScopeSyntaxError(`scope "${text}": unknown kind "${parts[0]}" (one of ${ScopeResource.options.join(', ')})`);
  const isRepository = kind.data === 'repository';
  if (parts.length !== (isRepository ? 3 : 2)) {
    throw new ScopeSyntaxError(isRepository ? `scope "${text}": write repository:<name or prefix*>:<actions>` : `scope "${text}": write ${kind.data}:<actions>`);
  }
  const actions = parts[parts.length - 1].split(',').map((a) => a.trim());
  const allowed = isRepository ? REPOSITORY_ACTIONS : OBJECT_ACTIONS;
  for (const action of actions) {
    if (!ScopeAction.safeParse(action).success || !allowed.includes(action as Action)) {
      throw new ScopeSyntaxError(`scope "${text}": action "${action}" does not apply to ${kind.data} (use ${allowed.join(', ')})`);
    }
  }
  const scope: TokenScope = { resource: kind.data, actions: [...new Set(actions)] as TokenScope['actions'] };
  if (isRepository) {
    const pattern = TokenScope.shape.pattern.safeParse(parts[1]);
    if (!pattern.success || !parts[1]) throw new ScopeSyntaxError(`scope "${text}": "${parts[1]}" is not a repository name or prefix ending in *`);
    scope.pattern = parts[1];
  }
  return scope;
}


/** Whether a repository scope's pattern names `repository` (exact, or a prefix glob ending in `*`). */
export function patternMatches(pattern: string | undefined, repository: string): boolean {
  if (pattern === undefined) return false;
  return pattern.endsWith('*') ? repository.startsWith(pattern.slice(0, -1)) : repository === pattern;
}

/**
 * Whether every repository a scope could name lies inside `<team>/` — what a member may hand to a
 * robot of its own team (it cannot give away rights it does not have).
 */
export function scopeStaysInTeam(scope: TokenScope, teamName: string): boolean {
  if (scope.resource !== 'repository') return true;
  const pattern = scope.pattern ?? '';
  return pattern.startsWith(`${teamName}/`) || pattern === teamName;
}

// The contract's enums and the model's types must name the same things.
const _kinds: readonly ResourceKind[] = ScopeResource.options;
const _actions: readonly Action[] = ScopeAction.options;
void _kinds;
void _actions;
