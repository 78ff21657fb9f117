import { PermissionDeniedError } from '@muelle/contracts';
import { credentialOf, csrfTokenOf, sessionCookie, sessionTokenOf } from './session-cookie';

const TOKEN = 'mle_0123456789abcdef';
const cookie = `theme=dark; muelle_session=${TOKEN}; other=1`;

describe('console session cookie', () => {
  it('prefers the Authorization header, then the cookie as a bearer token', () => {
    expect(credentialOf('POST', { authorization: 'Basic abc', cookie })).toBe('Basic abc');
    expect(credentialOf('GET', { cookie })).toBe(`Bearer ${TOKEN}`);
    expect(credentialOf('GET', {})).toBeUndefined();
  });

  it.each(['POST', 'PUT', 'PATCH', 'DELETE'])('needs the CSRF token on %s with the cookie', (method) => {
    expect(() => credentialOf(method, { cookie })).toThrow(PermissionDeniedError);
    expect(() => credentialOf(method, { cookie, 'x-muelle-csrf': csrfTokenOf('mle_other') })).toThrow(/CSRF token/);
    expect(credentialOf(method, { cookie, 'x-muelle-csrf': csrfTokenOf(TOKEN) })).toBe(`Bearer ${TOKEN}`);
  });

  it('needs it on every WebSocket upgrade, where it travels in the query', () => {
    expect(() => credentialOf('GET', { cookie }, new URLSearchParams(), true)).toThrow(PermissionDeniedError);
    expect(credentialOf('GET', { cookie }, new URLSearchParams({ csrf: csrfTokenOf(TOKEN) }), true)).toBe(`Bearer ${TOKEN}`);
  });

  it('names the rule in the refusal', () => {
    try {
      credentialOf('POST', { cookie });
      throw new Error('not refused');
    } catch (error) {
      expect((error as PermissionDeniedError).toWire()).toMatchObject({ code: 'PERMISSION_DENIED', details: { rule: 'csrf' } });
    }
  });

  it('derives a CSRF token that does not reveal the session', () => {
    expect(csrfTokenOf(TOKEN)).not.toContain(TOKEN.slice(4));
    expect(csrfTokenOf(TOKEN)).toBe(csrfTokenOf(TOKEN));
    expect(csrfTokenOf(TOKEN)).not.toBe(csrfTokenOf(`${TOKEN}x`));
  });

  it('reads the cookie among others and writes it HttpOnly, SameSite=Strict, Secure over HTTPS', () => {
    expect(sessionTokenOf(cookie)).toBe(TOKEN);
    expect(sessionTokenOf('muelle_session=')).toBeUndefined();
    expect(sessionCookie(TOKEN, 600, false)).toBe(`muelle_session=${TOKEN}; Path=/; Max-Age=600; HttpOnly; SameSite=Strict`);
    expect(sessionCookie(TOKEN, 600, true)).toMatch(/; Secure$/);
  });
});
