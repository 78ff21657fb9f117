import { shapeDifferences } from './json-shape';

describe('shapeDifferences', () => {
  it('names missing keys and other types by JSON path, recursing into objects and first array items', () => {
    const expected = { Id: 'x', State: { Pid: 1, Running: true }, Mounts: [{ Source: '/a' }], Labels: { a: 'b' } };
    expect(shapeDifferences(expected, { Id: 'y', State: { Pid: '1', Running: false }, Mounts: [{}], Labels: { a: 'c' }, Extra: 1 })).toEqual([
      '$.State.Pid: dockerd sends number, Muelle string',
      '$.Mounts[0].Source: missing',
    ]);
    expect(shapeDifferences(expected, [expected])).toEqual(['$: dockerd sends object, Muelle array']);
  });

  it('lets null match anything and empty arrays match any array', () => {
    expect(shapeDifferences({ Env: null, Ports: [] }, { Env: ['A=b'], Ports: [{ P: 1 }] })).toEqual([]);
    expect(shapeDifferences({ Env: ['A=b'] }, { Env: null })).toEqual([]);
  });
});
