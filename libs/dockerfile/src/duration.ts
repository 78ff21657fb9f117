/** Go `time.ParseDuration` (HEALTHCHECK --interval=30s, 1m30s, 1.5h, 250ms), in nanoseconds. */
const UNIT_NS: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  '\u00b5s': 1e3,
  '\u03bcs': 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

const COMPONENT = /^(\d*)(?:\.(\d*))?([^\d.]+)/;

export class DurationError extends Error {}

export function parseGoDuration(text: string): number {
  let rest = text;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    sign = rest.startsWith('-') ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') throw new DurationError(`time: invalid duration ${JSON.stringify(text)}`);

  let total = 0;
  while (rest !== '') {
    const match = COMPONENT.exec(rest);
    if (!match || (match[1] === '' && (match[2] ?? '') === '')) {
      throw new DurationError(`time: invalid duration ${JSON.stringify(text)}`);
    }
    const unit = UNIT_NS[match[3]];
    if (unit === undefined) throw new DurationError(`time: unknown unit ${JSON.stringify(match[3])} in duration ${JSON.stringify(text)}`);
    const value = Number(`${match[1] || '0'}.${match[2] || '0'}`);
    total += value * unit;
    rest = rest.slice(match[0].length);
  }
  if (!Number.isSafeInteger(Math.round(total))) throw new DurationError(`time: invalid duration ${JSON.stringify(text)}`);
  return sign * Math.round(total);
}
