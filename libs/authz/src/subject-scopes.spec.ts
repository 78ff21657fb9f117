import { subjectFromPrincipal } from './subject';

describe('subjectFromPrincipal with tokens', () => {
  const base = { user: { id: '6a1f0d7e-0000-4000-8000-000000000001', username: 'alpha+ci', role: 'member' as const }, teamId: '6a1f0d7e-0000-4000-8000-000000000002', teamName: 'alpha' };

  it("carries a robot's kind and scopes to the decision function", () => {
    const scopes = [{ resource: 'repository' as const, pattern: 'alpha/*', actions: ['pull' as const] }];
    expect(subjectFromPrincipal({ ...base, kind: 'robot', scopes })).toEqual({ id: base.user.id, name: 'alpha+ci', kind: 'robot', role: 'member', teamId: base.teamId, teamName: 'alpha', scopes });
  });

  it('leaves a user session unscoped (full rights of its role)', () => {
    const subject = subjectFromPrincipal(base);
    expect(subject.kind).toBe('user');
    expect(subject).not.toHaveProperty('scopes');
  });
});
