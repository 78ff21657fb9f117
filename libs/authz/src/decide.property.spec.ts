import fc from 'fast-check';
import { decide } from './decide';
import type { Action, Resource, Scope, Subject } from './model';

const TEAMS = [
  { id: '11111111-1111-4111-8111-111111111111', name: 'alpha' },
  { id: '22222222-2222-4222-8222-222222222222', name: 'beta' },
  { id: '33333333-3333-4333-8333-333333333333', name: 'gamma' },
];
const ACTIONS: Action[] = ['read', 'pull', 'push', 'delete', 'create', 'update', 'exec'];
const WRITES = new Set<Action>(['push', 'delete', 'create', 'update', 'exec']);

const team = fc.option(fc.constantFrom(...TEAMS), { nil: null });
const action = fc.constantFrom(...ACTIONS);
const scope: fc.Arbitrary<Scope> = fc.record({
  resource: fc.constantFrom('repository', 'catalog', 'container', 'volume', 'build', 'network', 'token') as fc.Arbitrary<Scope['resource']>,
  pattern: fc.option(fc.constantFrom('alpha/*', 'beta/*', 'library/*', 'alpha/app', '*'), { nil: undefined }),
  actions: fc.subarray(ACTIONS, { minLength: 1 }),
});
const subject: fc.Arbitrary<Subject> = fc.record({
  id: fc.constantFrom('u1', 'u2', 'u3'),
  name: fc.constantFrom('alpha-dev', 'beta-dev', 'robot'),
  kind: fc.constantFrom('user', 'robot') as fc.Arbitrary<Subject['kind']>,
  role: fc.constantFrom('admin', 'member', 'viewer') as fc.Arbitrary<Subject['role']>,
  team,
  scopes: fc.option(fc.array(scope, { maxLength: 3 }), { nil: undefined }),
}).map(({ team: t, scopes, ...rest }) => ({ ...rest, teamId: t?.id ?? null, teamName: t?.name ?? null, ...(scopes && { scopes }) }));

const repositoryName = fc
  .tuple(fc.constantFrom('alpha', 'beta', 'gamma', 'library', 'alphabet', 'x'), fc.constantFrom('', '/app', '/a/b'))
  .map(([owner, rest]) => `${owner}${rest}`);
const resource: fc.Arbitrary<Resource> = fc.oneof(
  fc.record({ kind: fc.constant('repository' as const), name: repositoryName, shared: fc.boolean(), anonymousPull: fc.boolean() }),
  fc.record({
    kind: fc.constantFrom('container', 'volume', 'build', 'network', 'token') as fc.Arbitrary<'container'>,
    teamId: team.map((t) => t?.id ?? null),
  }),
);

/** The team a resource belongs to, when it belongs to one; null for shared or public ones. */
function foreignTo(s: Subject, r: Resource): boolean {
  if (r.kind === 'repository') {
    if (r.name.startsWith('library/') || r.shared || r.anonymousPull) return false;
    const owner = r.name.split('/')[0];
    return owner !== s.teamName;
  }
  if (r.kind === 'container' || r.kind === 'volume' || r.kind === 'build' || r.kind === 'network' || r.kind === 'token') {
    return r.teamId === null || r.teamId !== s.teamId;
  }
  return false;
}

describe('decide(): properties', () => {
  it('a non-admin never gets another team object, and is told it does not exist', () => {
    fc.assert(
      fc.property(subject, action, resource, (s, a, r) => {
        fc.pre(s.role !== 'admin' && foreignTo(s, r) && !(a === 'create' && s.teamId === null));
        const decision = decide(s, a, r);
        return !decision.allowed && decision.outcome === 'not-found';
      }),
      { numRuns: 2000 },
    );
  });

  it('a viewer never writes', () => {
    fc.assert(
      fc.property(subject, fc.constantFrom(...ACTIONS.filter((a) => WRITES.has(a))), resource, (s, a, r) => !decide({ ...s, role: 'viewer' }, a, r).allowed),
      { numRuns: 2000 },
    );
  });

  it('scopes only narrow: whatever a scoped subject may do, the unscoped one may too', () => {
    fc.assert(
      fc.property(subject, action, resource, (s, a, r) => {
        const unscoped: Subject = { ...s, scopes: undefined };
        return !decide(s, a, r).allowed || decide(unscoped, a, r).allowed;
      }),
      { numRuns: 2000 },
    );
  });

  it('a scoped subject does nothing its scopes do not name', () => {
    const names = (sc: Scope, a: Action, r: Resource) =>
      sc.resource === r.kind &&
      (sc.actions.includes(a) || (a === 'read' && sc.actions.includes('pull'))) &&
      (r.kind !== 'repository' || sc.pattern === undefined || (sc.pattern.endsWith('*') ? r.name.startsWith(sc.pattern.slice(0, -1)) : r.name === sc.pattern));
    fc.assert(
      fc.property(subject, action, resource, (s, a, r) => {
        fc.pre(s.scopes !== undefined);
        return !decide(s, a, r).allowed || s.scopes!.some((sc) => names(sc, a, r));
      }),
      { numRuns: 2000 },
    );
  });

  it('scopes never turn a hidden object into a visible one', () => {
    fc.assert(
      fc.property(subject, action, resource, (s, a, r) => {
        const unscoped = decide({ ...s, scopes: undefined }, a, r);
        const scoped = decide(s, a, r);
        return unscoped.allowed || scoped.allowed || unscoped.outcome !== 'not-found' || scoped.outcome === 'not-found';
      }),
      { numRuns: 2000 },
    );
  });

  it('anonymous callers only ever pull anonymous-pull repositories', () => {
    fc.assert(
      fc.property(action, resource, (a, r) => {
        const allowed = decide(null, a, r).allowed;
        return !allowed || (a === 'pull' && r.kind === 'repository' && r.anonymousPull === true);
      }),
      { numRuns: 1000 },
    );
  });
});
