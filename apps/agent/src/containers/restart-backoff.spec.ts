import { nextRestartDelay } from './restart-backoff';

const at = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms).toISOString();

describe('restart back-off', () => {
  it('doubles from 100 ms per quick failure, capped at 10 s', () => {
    let step = 0;
    const delays: number[] = [];
    for (let i = 0; i < 12; i++) {
      const next = nextRestartDelay(step, at(0), at(500));
      delays.push(next.delayMs);
      step = next.nextStep;
    }
    expect(delays.slice(0, 4)).toEqual([100, 200, 400, 800]);
    expect(delays[11]).toBe(10_000);
  });

  it('resets after a run of 10 s or more', () => {
    expect(nextRestartDelay(9, at(0), at(9_999))).toEqual({ delayMs: 10_000, nextStep: 10 });
    expect(nextRestartDelay(9, at(0), at(10_000))).toEqual({ delayMs: 100, nextStep: 1 });
    expect(nextRestartDelay(9, null, null).delayMs).toBe(10_000);
  });
});
