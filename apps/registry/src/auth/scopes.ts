import type { AccessEntry } from './jwt';
import type { Route } from '../http/routes';

export type Action = 'pull' | 'push' | 'delete' | '*';

/** What a request needs, as distribution maps methods to actions (`app.go` appendAccessRecords). */
export function requiredAccess(method: string, route: Route): AccessEntry[] {
  switch (route.kind) {
    case 'base':
    case 'token':
      return [];
    case 'catalog':
      return [{ type: 'registry', name: 'catalog', actions: ['*'] }];
    default: {
      const actions = method === 'GET' || method === 'HEAD' ? ['pull'] : method === 'DELETE' ? ['delete'] : ['pull', 'push'];
      return [{ type: 'repository', name: route.name, actions }];
    }
  }
}

/** True when `granted` covers every action of every entry in `needed`. */
export function covers(granted: AccessEntry[], needed: AccessEntry[]): boolean {
  return needed.every((need) =>
    need.actions.every((action) =>
      granted.some((g) => g.type === need.type && g.name === need.name && (g.actions.includes(action) || g.actions.includes('*'))),
    ),
  );
}

/**
 * Parses `scope` values of a token request (`scope.md`): `type[(class)]:name:action[,action]`,
 * several space-separated. The name may itself contain `:` (`host:5000/repo`), so the type is
 * cut at the first colon and the actions at the last one. Unknown types are ignored.
 */
export function parseScopes(values: string[]): AccessEntry[] {
  const entries: AccessEntry[] = [];
  for (const value of values) {
    for (const scope of value.split(' ').filter(Boolean)) {
      const first = scope.indexOf(':');
      const last = scope.lastIndexOf(':');
      if (first < 0 || last === first) continue;
      const type = scope.slice(0, first).replace(/\(.*\)$/, '');
      const name = scope.slice(first + 1, last);
      const actions = scope.slice(last + 1).split(',').filter(Boolean);
      if ((type !== 'repository' && type !== 'registry') || !name || !actions.length) continue;
      const existing = entries.find((e) => e.type === type && e.name === name);
      if (existing) existing.actions = [...new Set([...existing.actions, ...actions])];
      else entries.push({ type, name, actions });
    }
  }
  return entries;
}

/** The `scope` value of a challenge for what a request needs. */
export function scopeString(needed: AccessEntry[]): string {
  return needed.map((e) => `${e.type}:${e.name}:${e.actions.join(',')}`).join(' ');
}
