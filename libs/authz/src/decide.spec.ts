import { decide } from './decide';
import type { Action, Decision, Resource, Subject } from './model';

const ALPHA = '11111111-1111-4111-8111-111111111111';
const BETA = '22222222-2222-4222-8222-222222222222';

const user = (name: string, role: Subject['role'], teamId: string | null, teamName: string | null, scopes?: Subject['scopes']): Subject => ({
  id: `${name}-id`,
  name,
  kind: 'user',
  role,
  teamId,
  teamName,
  ...(scopes && { scopes }),
});

const admin = user('root', 'admin', null, null);
const alphaDev = user('alpha-dev', 'member', ALPHA, 'alpha');
const alphaViewer = user('alpha-view', 'viewer', ALPHA, 'alpha');
const loner = user('loner', 'member', null, null);
const alphaPullOnly = user('alpha-ci', 'member', ALPHA, 'alpha', [{ resource: 'repository', pattern: 'alpha/*', actions: ['pull'] }]);

const repo = (name: string, extra: Partial<Extract<Resource, { kind: 'repository' }>> = {}): Resource => ({ kind: 'repository', name, ...extra });
const owned = (kind: 'container' | 'volume' | 'build' | 'network' | 'token', teamId: string | null, ownerId?: string): Resource => ({ kind, teamId, ...(ownerId && { ownerId }) });

type Expect = 'allow' | `404 ${string}` | `403 ${string}`;
const outcome = (d: Decision): Expect => (d.allowed ? 'allow' : d.outcome === 'not-found' ? `404 ${d.rule}` : `403 ${d.rule}`);

const rules: Array<[string, Subject | null, Action, Resource, Expect]> = [
  ['admin pushes library/', admin, 'push', repo('library/busybox'), 'allow'],
  ['admin deletes another team repository', admin, 'delete', repo('beta/secret'), 'allow'],
  ['admin reads the audit log', admin, 'read', { kind: 'audit' }, 'allow'],
  ['member pushes its team', alphaDev, 'push', repo('alpha/app'), 'allow'],
  ['member pushes its team (bare name)', alphaDev, 'push', repo('alpha'), 'allow'],
  ['member deletes its team', alphaDev, 'delete', repo('alpha/app/sub'), 'allow'],
  ['member pulls library/', alphaDev, 'pull', repo('library/busybox'), 'allow'],
  ['member cannot push library/', alphaDev, 'push', repo('library/busybox'), '403 shared-repository-admin-write'],
  ['member cannot delete library/', alphaDev, 'delete', repo('library/busybox'), '403 shared-repository-admin-write'],
  ['member pulls a shared repository', alphaDev, 'pull', repo('beta/base', { shared: true }), 'allow'],
  ['member cannot push a shared repository', alphaDev, 'push', repo('beta/base', { shared: true }), '403 shared-repository-admin-write'],
  ['member pulls an anonymous-pull repository', alphaDev, 'pull', repo('beta/pub', { anonymousPull: true }), 'allow'],
  ['member does not see another team', alphaDev, 'pull', repo('beta/secret'), '404 other-team'],
  ['member cannot push another team', alphaDev, 'push', repo('beta/evil'), '404 other-team'],
  ['prefix is not a team: alphabet/ is not alpha/', alphaDev, 'pull', repo('alphabet/x'), '404 other-team'],
  ['member cannot change repository settings', alphaDev, 'update', repo('alpha/app'), '403 admin-only'],
  ['viewer pulls its team', alphaViewer, 'pull', repo('alpha/app'), 'allow'],
  ['viewer cannot push its team', alphaViewer, 'push', repo('alpha/app'), '403 viewer-read-only'],
  ['viewer does not see another team', alphaViewer, 'pull', repo('beta/app'), '404 other-team'],
  ['member without team sees only shared', loner, 'pull', repo('library/x'), 'allow'],
  ['member without team owns nothing', loner, 'push', repo('loner/x'), '404 other-team'],
  ['anyone signed in lists the catalog', alphaViewer, 'read', { kind: 'catalog' }, 'allow'],
  ['anonymous pulls an anonymous-pull repository', null, 'pull', repo('beta/pub', { anonymousPull: true }), 'allow'],
  ['anonymous cannot push it', null, 'push', repo('beta/pub', { anonymousPull: true }), '404 sign-in-required'],
  ['anonymous cannot pull library/', null, 'pull', repo('library/busybox'), '404 sign-in-required'],
  ['anonymous cannot list the catalog', null, 'read', { kind: 'catalog' }, '404 sign-in-required'],
  ['member runs a container in its team', alphaDev, 'create', owned('container', ALPHA), 'allow'],
  ['member execs in its team', alphaDev, 'exec', owned('container', ALPHA), 'allow'],
  ['member does not see another team container', alphaDev, 'read', owned('container', BETA), '404 other-team'],
  ['member does not see an admin container', alphaDev, 'read', owned('container', null), '404 other-team'],
  ['member without team cannot create', loner, 'create', owned('container', null), '403 no-team'],
  ['viewer reads a container', alphaViewer, 'read', owned('container', ALPHA), 'allow'],
  ['viewer cannot exec', alphaViewer, 'exec', owned('container', ALPHA), '403 viewer-read-only'],
  ['viewer cannot create a volume', alphaViewer, 'create', owned('volume', ALPHA), '403 viewer-read-only'],
  ['member revokes its own token', alphaDev, 'delete', owned('token', ALPHA, 'alpha-dev-id'), 'allow'],
  ["member cannot revoke a teammate's token", alphaDev, 'delete', owned('token', ALPHA, 'other-id'), '403 token-owner-only'],
  ['member reads its team', alphaDev, 'read', { kind: 'team', teamId: ALPHA }, 'allow'],
  ['member does not see another team', alphaDev, 'read', { kind: 'team', teamId: BETA }, '404 other-team'],
  ['member cannot create teams', alphaDev, 'create', { kind: 'team', teamId: ALPHA }, '403 admin-only'],
  ['member changes its own password', alphaDev, 'update', { kind: 'user', userId: 'alpha-dev-id', teamId: ALPHA }, 'allow'],
  ["member cannot change a teammate's password", alphaDev, 'update', { kind: 'user', userId: 'x', teamId: ALPHA }, '403 admin-only'],
  ['member does not see another team user', alphaDev, 'read', { kind: 'user', userId: 'y', teamId: BETA }, '404 other-team'],
  ['member lists hosts', alphaDev, 'read', { kind: 'host' }, 'allow'],
  ['member cannot cordon a host', alphaDev, 'update', { kind: 'host' }, '403 admin-only'],
  ['member cannot prune the system', alphaDev, 'update', { kind: 'system' }, '403 admin-only'],
  ['member cannot read the audit log', alphaDev, 'read', { kind: 'audit' }, '403 admin-only'],
  ['scoped token pulls inside its pattern', alphaPullOnly, 'pull', repo('alpha/app'), 'allow'],
  ['scoped token reads settings it may pull', alphaPullOnly, 'read', repo('alpha/app'), 'allow'],
  ['scoped token cannot push', alphaPullOnly, 'push', repo('alpha/app'), '403 token-scope'],
  ['scoped token cannot pull library/ outside its pattern', alphaPullOnly, 'pull', repo('library/busybox'), '403 token-scope'],
  ['scopes never reveal another team', alphaPullOnly, 'pull', repo('beta/secret'), '404 other-team'],
  ['scoped token cannot act on containers', alphaPullOnly, 'read', owned('container', ALPHA), '403 token-scope'],
];

describe('decide(): the rules table', () => {
  it.each(rules)('%s', (_label, subject, action, resource, expected) => {
    expect(outcome(decide(subject, action, resource))).toBe(expected);
  });

  it('explains a refusal in a sentence', () => {
    const refused = decide(alphaDev, 'push', repo('library/busybox'));
    expect(refused).toMatchObject({ allowed: false, reason: expect.stringMatching(/only admins write library\//) });
  });
});
