import { InvalidReferenceError } from './errors';
import { formatReference, parseReference } from './reference';

const REG = 'registry.muelle.internal:5000';
const HEX = 'c'.repeat(64);

describe('parseReference', () => {
  it.each([
    ['busybox', { registry: REG, repository: 'busybox', tag: 'latest' }],
    ['busybox:1.36', { registry: REG, repository: 'busybox', tag: '1.36' }],
    ['team/app', { registry: REG, repository: 'team/app', tag: 'latest' }],
    ['127.0.0.1:5000/team/app:tag', { registry: '127.0.0.1:5000', repository: 'team/app', tag: 'tag' }],
    ['localhost/app', { registry: 'localhost', repository: 'app', tag: 'latest' }],
    ['localhost:5000/app:v1', { registry: 'localhost:5000', repository: 'app', tag: 'v1' }],
    ['registry.example.org/a/b/c:1', { registry: 'registry.example.org', repository: 'a/b/c', tag: '1' }],
    ['Upper/app', { registry: 'Upper', repository: 'app', tag: 'latest' }],
    ['[::1]:5000/app', { registry: '[::1]:5000', repository: 'app', tag: 'latest' }],
    [`host.io/app@sha256:${HEX}`, { registry: 'host.io', repository: 'app', digest: `sha256:${HEX}` }],
    [`app:tag@sha256:${HEX}`, { registry: REG, repository: 'app', tag: 'tag', digest: `sha256:${HEX}` }],
    // docker reads "localhost:5000" without a slash as repository "localhost" with tag "5000"
    ['localhost:5000', { registry: REG, repository: 'localhost', tag: '5000' }],
  ])('parses %s', (input, expected) => {
    expect(parseReference(input, REG)).toEqual(expected);
  });

  it.each([
    ['', 'empty'],
    ['Busybox', 'must be lowercase'],
    ['host.io/Team/app', 'must be lowercase'],
    ['app:', 'invalid tag'],
    ['app:.bad', 'invalid tag'],
    ['app@sha256:short', 'invalid digest'],
    [`app@md5:${'a'.repeat(32)}`, 'not supported'],
    [`app@sha256:${HEX}@sha256:${HEX}`, 'invalid digest'],
    ['host.io/', 'invalid repository name'],
    ['/app', 'invalid repository name'],
    ['a//b', 'invalid repository name'],
    ['ho_st.io/app', 'invalid registry host'],
    ['-host.io/app', 'invalid registry host'],
    ['localhost:99999/app', 'port 99999 is outside 1-65535'],
    ['localhost:0/app', 'port 0 is outside 1-65535'],
    ['host.io:000443/app', 'outside 1-65535'],
    ['[:::::]:5000/app', 'is not an IPv6 address'],
    [`${'a'.repeat(256)}`, 'longer than 255'],
    ['app name', 'invalid repository name'],
  ])('rejects %j (%s)', (input, message) => {
    expect(() => parseReference(input, REG)).toThrow(InvalidReferenceError);
    expect(() => parseReference(input, REG)).toThrow(message);
  });

  it('accepts the edges of the port range and IPv6 hosts', () => {
    expect(parseReference('localhost:1/app', REG).registry).toBe('localhost:1');
    expect(parseReference('localhost:65535/app', REG).registry).toBe('localhost:65535');
    expect(parseReference('[::1]:5000/app', REG).registry).toBe('[::1]:5000');
    expect(() => parseReference('app', 'localhost:70000')).toThrow(InvalidReferenceError);
  });

  it('rejects a bad default registry', () => {
    expect(() => parseReference('app', 'not a host')).toThrow(InvalidReferenceError);
  });
});

describe('formatReference', () => {
  it('writes the canonical full form', () => {
    expect(formatReference(parseReference('busybox', REG))).toBe(`${REG}/busybox:latest`);
    expect(formatReference(parseReference(`h.io/app:t@sha256:${HEX}`, REG))).toBe(`h.io/app:t@sha256:${HEX}`);
  });

  it('omits the default registry only when the result reads back the same', () => {
    expect(formatReference(parseReference('team/app:1', REG), { defaultRegistry: REG })).toBe('team/app:1');
    const dotted = { registry: REG, repository: 'foo.bar/app', tag: 'latest' };
    expect(formatReference(dotted, { defaultRegistry: REG })).toBe(`${REG}/foo.bar/app:latest`);
    expect(parseReference(formatReference(dotted, { defaultRegistry: REG }), REG)).toEqual(dotted);
  });
});
