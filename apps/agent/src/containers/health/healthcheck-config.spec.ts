import { probeArgs, resolveHealthcheck } from './healthcheck-config';

describe('resolveHealthcheck', () => {
  const image = { Test: ['CMD-SHELL', 'wget -q -O- localhost'], Interval: 5e9, Timeout: 2e9, StartPeriod: 1e9, Retries: 4 };

  it("takes the image's HEALTHCHECK (ns → ms) when the container sets nothing", () => {
    expect(resolveHealthcheck(image, undefined)).toEqual({ test: image.Test, intervalMs: 5000, timeoutMs: 2000, startPeriodMs: 1000, retries: 4 });
  });

  it("overrides field by field; 0 and absent inherit the image's, then Docker's defaults", () => {
    expect(resolveHealthcheck(image, { intervalMs: 250, retries: 0 })).toMatchObject({ test: image.Test, intervalMs: 250, retries: 4 });
    expect(resolveHealthcheck(undefined, { test: ['CMD', 'true'] })).toEqual({ test: ['CMD', 'true'], intervalMs: 30_000, timeoutMs: 30_000, startPeriodMs: 0, retries: 3 });
  });

  it('NONE from the container disables the image check; nothing to run gives null', () => {
    expect(resolveHealthcheck(image, { test: ['NONE'] })).toBeNull();
    expect(resolveHealthcheck({ Test: ['NONE'] }, undefined)).toBeNull();
    expect(resolveHealthcheck(undefined, { intervalMs: 1000 })).toBeNull();
    expect(resolveHealthcheck(undefined, undefined)).toBeNull();
  });

  it('runs CMD-SHELL through /bin/sh -c and CMD as given', () => {
    expect(probeArgs(['CMD-SHELL', 'test -f /ok'])).toEqual(['/bin/sh', '-c', 'test -f /ok']);
    expect(probeArgs(['CMD', 'cat', '/ok'])).toEqual(['cat', '/ok']);
  });
});
