import { ExecutionContext } from '@nestjs/common';
import { InvalidArgumentError, NotFoundError, PermissionDeniedError } from '@muelle/contracts';
import { firstValueFrom, Observable, of, throwError } from 'rxjs';
import type { AuditLog } from './audit-log';
import { DeniedChangeAudit } from './denied-change.interceptor';

const principal = { user: { id: 'u1', username: 'alpha-dev', role: 'member' }, teamId: 't1', teamName: 'alpha' };

function run(method: string, outcome: () => Observable<unknown>, who: unknown = principal) {
  const records: unknown[][] = [];
  const audit = { record: async (...args: unknown[]) => void records.push(args) } as unknown as AuditLog;
  const context = {
    getType: () => 'http',
    switchToHttp: () => ({ getRequest: () => ({ method, path: '/v1/hosts/h1/cordon', principal: who }) }),
  } as unknown as ExecutionContext;
  const result = firstValueFrom(new DeniedChangeAudit(audit).intercept(context, { handle: outcome }));
  return { result, records };
}

describe('DeniedChangeAudit', () => {
  it('records a refused change with who, team, route and rule, and passes the error on', async () => {
    const denied = new PermissionDeniedError('cordoning a host needs the admin role', { rule: 'admin-only' });
    const { result, records } = run('POST', () => throwError(() => denied));
    await expect(result).rejects.toBe(denied);
    expect(records).toEqual([
      [principal, 'request.denied', 'POST /v1/hosts/h1/cordon', { outcome: 'forbidden', team: 'alpha', message: 'cordoning a host needs the admin role', rule: 'admin-only' }],
    ]);
  });

  it("records another team's hidden object as not-found", async () => {
    const { result, records } = run('DELETE', () => throwError(() => new NotFoundError('no such container: web')));
    await expect(result).rejects.toThrow('no such container');
    expect(records[0]?.[3]).toMatchObject({ outcome: 'not-found' });
  });

  it('leaves reads, successes, other errors and anonymous callers alone', async () => {
    const cases = [
      run('GET', () => throwError(() => new PermissionDeniedError('x'))),
      run('POST', () => of('ok')),
      run('POST', () => throwError(() => new InvalidArgumentError('bad body'))),
      run('POST', () => throwError(() => new PermissionDeniedError('x')), null),
    ];
    for (const c of cases) await c.result.catch(() => undefined);
    expect(cases.flatMap((c) => c.records)).toEqual([]);
  });
});
