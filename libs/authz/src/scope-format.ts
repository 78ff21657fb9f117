// No zod here (types only): the CLI imports this file alone, to start without loading the contracts.
import type { TokenScope } from '@muelle/contracts';
import type { Scope } from './model';

/** The wire form of a scope, as `parseScope` reads it. */
export function formatScope(scope: TokenScope | Scope): string {
  return scope.resource === 'repository' ? `repository:${scope.pattern ?? '*'}:${scope.actions.join(',')}` : `${scope.resource}:${scope.actions.join(',')}`;
}
