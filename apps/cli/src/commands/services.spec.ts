import { changedNetworks, restartPolicyOf } from './services';

describe('service create/update flags', () => {
  it('--restart-* become the restart policy, only what was given, durations in ms', () => {
    expect(restartPolicyOf({})).toEqual({});
    expect(restartPolicyOf({ restartCondition: 'on-failure', restartDelay: '10s', restartMaxAttempts: '3', restartWindow: '2m' })).toEqual({ condition: 'on-failure', delayMs: 10_000, maxAttempts: 3, windowMs: 120_000 });
    expect(restartPolicyOf({ restartWindow: '1h' })).toEqual({ windowMs: 3_600_000 });
    expect(() => restartPolicyOf({ restartDelay: 'soon' })).toThrow('invalid --restart-delay "soon"');
    expect(() => restartPolicyOf({ restartMaxAttempts: '-1' })).toThrow('invalid --restart-max-attempts "-1"');
  });

  it('--network-rm then --network-add, refusing a network not joined or joined twice', () => {
    expect(changedNetworks([{ network: 'a', aliases: [] }], ['a'], ['b'])).toEqual([{ network: 'b', aliases: [] }]);
    expect(() => changedNetworks([], ['a'], [])).toThrow('--network-rm a: the service is not on that network');
  });
});
