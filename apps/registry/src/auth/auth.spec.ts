import { signToken, TokenInvalidError, verifyToken } from './jwt';
import { covers, parseScopes, requiredAccess } from './scopes';

const key = Buffer.from('k'.repeat(32));
const now = 1_700_000_000;
const claims = { iss: 'muelle-registry', sub: 'alice', aud: 'muelle-registry', iat: now, nbf: now, exp: now + 300, access: [{ type: 'repository' as const, name: 'team/app', actions: ['pull'] }] };

describe('registry tokens', () => {
  it('round-trips a signed token', () => {
    expect(verifyToken(signToken(claims, key), key, 'muelle-registry', now + 10)).toMatchObject({ sub: 'alice', access: claims.access });
  });

  it('rejects a wrong key, audience, expiry, algorithm or a tampered payload', () => {
    const token = signToken(claims, key);
    expect(() => verifyToken(token, Buffer.from('x'.repeat(32)), 'muelle-registry', now)).toThrow(TokenInvalidError);
    expect(() => verifyToken(token, key, 'other', now)).toThrow(/audience/);
    expect(() => verifyToken(token, key, 'muelle-registry', now + 400)).toThrow(/expired/);
    const [h, , s] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ ...claims, access: [{ type: 'repository', name: 'team/app', actions: ['push'] }] })).toString('base64url');
    expect(() => verifyToken(`${h}.${forged}.${s}`, key, 'muelle-registry', now)).toThrow(/signature/);
    const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    expect(() => verifyToken(`${none}.${token.split('.')[1]}.`, key, 'muelle-registry', now)).toThrow(/algorithm/);
  });
});

describe('scopes', () => {
  it('parses scope parameters, including names with a registry host and port', () => {
    expect(parseScopes(['repository:team/app:pull,push', 'repository:localhost:5000/x:pull registry:catalog:*'])).toEqual([
      { type: 'repository', name: 'team/app', actions: ['pull', 'push'] },
      { type: 'repository', name: 'localhost:5000/x', actions: ['pull'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ]);
    expect(parseScopes(['nonsense', 'repository(plugin):a:pull'])).toEqual([{ type: 'repository', name: 'a', actions: ['pull'] }]);
  });

  it('maps methods to actions and checks coverage per repository', () => {
    const route = { kind: 'manifest' as const, name: 'a', reference: { tag: 't' } };
    expect(requiredAccess('GET', route)).toEqual([{ type: 'repository', name: 'a', actions: ['pull'] }]);
    expect(requiredAccess('PUT', route)).toEqual([{ type: 'repository', name: 'a', actions: ['pull', 'push'] }]);
    expect(requiredAccess('DELETE', route)).toEqual([{ type: 'repository', name: 'a', actions: ['delete'] }]);
    const granted = [{ type: 'repository' as const, name: 'a', actions: ['pull'] }];
    expect(covers(granted, requiredAccess('GET', route))).toBe(true);
    expect(covers(granted, requiredAccess('PUT', route))).toBe(false);
    expect(covers(granted, requiredAccess('GET', { ...route, name: 'b' }))).toBe(false);
  });
});
