import { formatScope, parseScope, patternMatches, ScopeSyntaxError, scopeStaysInTeam } from './token-scopes';

describe('token scopes on the wire', () => {
  it('parses repository and object scopes and prints them back', () => {
    expect(parseScope('repository:alpha/*:pull,push')).toEqual({ resource: 'repository', pattern: 'alpha/*', actions: ['pull', 'push'] });
    expect(parseScope('container:read,exec')).toEqual({ resource: 'container', actions: ['read', 'exec'] });
    for (const text of ['repository:alpha/app:pull', 'repository:*:pull', 'container:read,exec']) expect(formatScope(parseScope(text))).toBe(text);
  });

  it.each([
    ['robot:pull', /unknown kind "robot"/],
    ['repository:pull', /repository:<name or prefix\*>:<actions>/],
    ['repository:alpha/*:read', /action "read" does not apply to repository/],
    ['container:push', /action "push" does not apply to container/],
    ['repository:Alpha/*:pull', /not a repository name/],
    ['container:alpha:read', /write container:<actions>/],
  ])('refuses %s, naming what is wrong', (text, message) => {
    expect(() => parseScope(text)).toThrow(ScopeSyntaxError);
    expect(() => parseScope(text)).toThrow(message);
  });

  it('matches exact names and prefix globs', () => {
    expect(patternMatches('alpha/*', 'alpha/app')).toBe(true);
    expect(patternMatches('alpha/*', 'alphabet/app')).toBe(false);
    expect(patternMatches('alpha/app', 'alpha/app')).toBe(true);
    expect(patternMatches('alpha/app', 'alpha/app2')).toBe(false);
  });

  it("keeps a member's robot inside its team's repositories", () => {
    expect(scopeStaysInTeam(parseScope('repository:alpha/*:push'), 'alpha')).toBe(true);
    expect(scopeStaysInTeam(parseScope('repository:alpha*:push'), 'alpha')).toBe(false);
    expect(scopeStaysInTeam(parseScope('repository:library/*:pull'), 'alpha')).toBe(false);
    expect(scopeStaysInTeam(parseScope('repository:*:pull'), 'alpha')).toBe(false);
    expect(scopeStaysInTeam(parseScope('container:read'), 'alpha')).toBe(true);
  });
});

