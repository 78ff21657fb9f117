import { CliError } from './errors';
import { parseHealthcheck } from './parse';

describe('--health-* flags', () => {
  it('turns --health-cmd into a CMD-SHELL test and durations into ms', () => {
    expect(parseHealthcheck({ healthCmd: 'wget -q -O- localhost', healthInterval: '1m30s', healthTimeout: '500ms', healthStartPeriod: '0', healthRetries: '5', healthcheck: true })).toEqual({
      test: ['CMD-SHELL', 'wget -q -O- localhost'],
      intervalMs: 90_000,
      timeoutMs: 500,
      startPeriodMs: 0,
      retries: 5,
    });
  });

  it('tunes the image check without a command, sets nothing without flags, and --no-healthcheck is NONE', () => {
    expect(parseHealthcheck({ healthInterval: '2s', healthcheck: true })).toEqual({ test: undefined, intervalMs: 2000, timeoutMs: undefined, startPeriodMs: undefined, retries: undefined });
    expect(parseHealthcheck({ healthcheck: true })).toBeUndefined();
    expect(parseHealthcheck({ healthcheck: false })).toEqual({ test: ['NONE'] });
  });

  it('names the bad flag', () => {
    expect(() => parseHealthcheck({ healthInterval: 'often' })).toThrow(/invalid --health-interval "often"/);
    expect(() => parseHealthcheck({ healthTimeout: '10us' })).toThrow(/--health-timeout.*at least 1ms/);
    expect(() => parseHealthcheck({ healthRetries: '-1' })).toThrow(CliError);
    expect(() => parseHealthcheck({ healthcheck: false, healthCmd: 'true' })).toThrow(/--no-healthcheck conflicts/);
  });
});
