import { httpErrorOf } from './http-errors';
import { BadInputError, problemOfRequestTarget } from './input-guard';

describe('edge input rules', () => {
  it.each([
    ['/v1/containers/a%00b', 'path contains a NUL byte'],
    ['/v1/containers?name=a%00b', 'query contains a NUL byte'],
    ['/v1/containers/%E0%A4%A', 'path has a malformed percent-escape'],
    ['/v1/containers/%C0%80', 'path has a malformed percent-escape or is not valid UTF-8'],
    ['/v1/x?y=%', 'query has a malformed percent-escape'],
  ])('refuses %s', (target, problem) => {
    expect(problemOfRequestTarget(target)).toContain(problem);
  });

  it.each(['/v1/containers/abc', '/v1/images/a%2Fb/json?all=1&x=%C3%A9', '/v1/x?q=a+b'])('accepts %s', (target) => {
    expect(problemOfRequestTarget(target)).toBeUndefined();
  });

  it('maps body-parser and guard errors to 4xx naming the limit, and unknown errors to 500 without internals', () => {
    const tooLarge = Object.assign(new Error('request entity too large'), { status: 413, statusCode: 413, expose: true, type: 'entity.too.large', limit: 1048576 });
    expect(httpErrorOf(tooLarge)).toMatchObject({ status: 413, code: 'INVALID_ARGUMENT', message: 'request body is larger than the limit of 1048576 bytes' });
    expect(httpErrorOf(new BadInputError(400, 'body field "a" contains a NUL byte'))).toMatchObject({ status: 400, unexpected: false });
    expect(httpErrorOf(new TypeError('x.startsWith is not a function'))).toMatchObject({ status: 500, message: 'internal error', unexpected: true });
  });
});
