import { formatBytes } from './byte-units';

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [512, '512 B'],
    [1024, '1 KiB'],
    [1610612736, '1.5 GiB'],
    [5 * 1024 * 1024, '5 MiB'],
    [1234567, '1.18 MiB'],
    [2 ** 50, '1024 TiB'],
  ])('%d → %s', (bytes, text) => expect(formatBytes(bytes)).toBe(text));

  it("writes Docker's table form without a space", () => {
    expect(formatBytes(1610612736, '')).toBe('1.5GiB');
  });
});
