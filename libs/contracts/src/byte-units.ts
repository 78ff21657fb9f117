const BINARY_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/**
 * `8589934592` → `8 GiB`, `1610612736` → `1.5 GiB` (two decimals at most): the figures refusals,
 * reports and the CLI's tables show. `separator: ''` gives Docker's table form (`1.5GiB`).
 */
export function formatBytes(bytes: number, separator = ' '): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < BINARY_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${Math.round(value * 100) / 100}${separator}${BINARY_UNITS[unit]}`;
}
