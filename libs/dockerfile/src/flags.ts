/**
 * Instruction flags (`--from=...`, `--link`, `--mount=...`), parsed generically and checked
 * against what each instruction accepts, with the rules of BuildKit's `BFlags`.
 */
export type FlagType = 'string' | 'strings' | 'bool';

export type FlagSpec = Readonly<Record<string, FlagType>>;

export interface ParsedFlags {
  strings: Map<string, string>;
  lists: Map<string, string[]>;
  bools: Map<string, boolean>;
}

export class FlagError extends Error {
  constructor(
    message: string,
    /** The flag as written, to locate it in the line. */
    readonly flagText: string,
  ) {
    super(message);
  }
}

export const FLAG_SPECS = {
  FROM: { platform: 'string' },
  RUN: { mount: 'strings', network: 'string', security: 'string', device: 'strings' },
  COPY: {
    from: 'string',
    chown: 'string',
    chmod: 'string',
    link: 'bool',
    parents: 'bool',
    exclude: 'strings',
  },
  ADD: {
    chown: 'string',
    chmod: 'string',
    link: 'bool',
    'keep-git-dir': 'bool',
    checksum: 'string',
    unpack: 'bool',
    exclude: 'strings',
  },
  HEALTHCHECK: {
    interval: 'string',
    timeout: 'string',
    'start-period': 'string',
    'start-interval': 'string',
    retries: 'string',
  },
} as const satisfies Record<string, FlagSpec>;

export function parseFlags(rawFlags: readonly string[], spec: FlagSpec): ParsedFlags {
  const parsed: ParsedFlags = { strings: new Map(), lists: new Map(), bools: new Map() };
  const seen = new Set<string>();
  for (const raw of rawFlags) {
    if (!raw.startsWith('--')) throw new FlagError(`arg should start with -- : ${raw}`, raw);
    const body = raw.slice(2);
    const equals = body.indexOf('=');
    const name = equals >= 0 ? body.slice(0, equals) : body;
    const value = equals >= 0 ? body.slice(equals + 1) : undefined;
    const type = Object.prototype.hasOwnProperty.call(spec, name) ? spec[name] : undefined;
    if (type === undefined) {
      const known = Object.keys(spec);
      const hint = known.length === 0 ? ' (this instruction takes no flags)' : ` (known flags: ${known.map((k) => '--' + k).join(', ')})`;
      throw new FlagError(`unknown flag: ${name}${hint}`, raw);
    }
    if (seen.has(name) && type !== 'strings') throw new FlagError(`duplicate flag specified: ${name}`, raw);
    seen.add(name);

    if (type === 'bool') {
      if (value === '') throw new FlagError(`missing a value on flag: ${name}`, raw);
      const lower = value?.toLowerCase();
      if (lower === undefined || lower === 'true') parsed.bools.set(name, true);
      else if (lower === 'false') parsed.bools.set(name, false);
      else throw new FlagError(`expecting boolean value for flag ${name}, not: ${value}`, raw);
      continue;
    }
    if (value === undefined) throw new FlagError(`missing a value on flag: ${name}`, raw);
    if (type === 'string') parsed.strings.set(name, value);
    else parsed.lists.set(name, [...(parsed.lists.get(name) ?? []), value]);
  }
  return parsed;
}
