import { NotFoundError, PermissionDeniedError } from '@muelle/contracts';
import { enforce } from './decide-errors';
import { decideRepository } from './decide-repository';
import type { Subject } from './model';

const alphaDev: Subject = { id: 'u1', name: 'alpha-dev', kind: 'user', role: 'member', teamId: 't1', teamName: 'alpha' };

describe('enforce(): a decision as the error every door maps to HTTP', () => {
  it('passes an allowed decision, hides with the door’s own 404 words, refuses with 403 naming the rule', () => {
    expect(() => enforce({ allowed: true }, { notFound: 'x' })).not.toThrow();
    expect(() => enforce({ allowed: false, outcome: 'not-found', rule: 'other-team', reason: 'no such repository: beta/x' }, { notFound: 'no such image: beta/x:1' })).toThrow(
      new NotFoundError('no such image: beta/x:1'),
    );
    try {
      enforce({ allowed: false, outcome: 'forbidden', rule: 'admin-only', reason: 'needs the admin role' }, { notFound: 'x', what: 'creating a team', field: 'body' });
      throw new Error('not refused');
    } catch (error) {
      expect(error).toBeInstanceOf(PermissionDeniedError);
      expect(error).toMatchObject({ message: 'creating a team needs the admin role', details: { rule: 'admin-only', field: 'body' } });
    }
  });
});

describe('decideRepository(): settings are read only when they could change the answer', () => {
  it('does not look up its own team, library/ or a refusal that settings cannot lift', async () => {
    const lookup = jest.fn(async () => ({ shared: true, anonymousPull: true }));
    expect((await decideRepository(alphaDev, 'push', 'alpha/app', lookup)).allowed).toBe(true);
    expect((await decideRepository(alphaDev, 'pull', 'library/busybox', lookup)).allowed).toBe(true);
    expect(await decideRepository(alphaDev, 'push', 'library/busybox', lookup)).toMatchObject({ allowed: false, outcome: 'forbidden' });
    expect(lookup).not.toHaveBeenCalled();
  });

  it("reads another team's repository settings: shared opens pulls, never pushes; unknown stays hidden", async () => {
    const shared = jest.fn(async () => ({ shared: true, anonymousPull: false }));
    expect((await decideRepository(alphaDev, 'pull', 'beta/base', shared)).allowed).toBe(true);
    expect(await decideRepository(alphaDev, 'push', 'beta/base', shared)).toMatchObject({ allowed: false, outcome: 'forbidden', rule: 'shared-repository-admin-write' });
    expect(shared).toHaveBeenCalledWith('beta/base');
    expect(await decideRepository(alphaDev, 'pull', 'beta/secret', async () => null)).toMatchObject({ allowed: false, outcome: 'not-found' });
    expect(await decideRepository(null, 'pull', 'beta/open', async () => ({ shared: false, anonymousPull: true }))).toEqual({ allowed: true });
  });
});
