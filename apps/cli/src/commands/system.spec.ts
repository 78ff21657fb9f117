import { dfRow } from './system';

describe('system df rows', () => {
  it('sums the bytes, counts the active ones and reports what the unused ones take with its share', () => {
    expect(dfRow('Local Volumes', [{ bytes: 3000, active: true }, { bytes: 1000, active: false }, { bytes: 0, active: false }])).toEqual(['Local Volumes', '3', '1', '4.00kB', '1.00kB (25%)']);
  });

  it('prints - for sums that would leave out a size a host did not report, and no share of an empty total', () => {
    expect(dfRow('Containers', [{ bytes: 500, active: true }, { bytes: null, active: false }])).toEqual(['Containers', '2', '1', '-', '-']);
    expect(dfRow('Containers', [{ bytes: null, active: true }, { bytes: 200, active: false }])).toEqual(['Containers', '2', '1', '-', '200B']);
    expect(dfRow('Images', [])).toEqual(['Images', '0', '0', '0B', '0B']);
  });
});
