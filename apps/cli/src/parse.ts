import { parseGoDuration } from '@muelle/dockerfile/duration';
import { CliError } from './errors';

export const collect = (value: string, previous: string[]) => [...previous, value];

/** `-p [ip:]hostPort:containerPort[/proto]` or `-p containerPort` (random host port). */
export function parsePublish(text: string) {
  const match = /^(?:(\d{1,3}(?:\.\d{1,3}){3}):)?(?:(\d*):)?(\d+)(?:\/(tcp|udp))?$/.exec(text);
  if (!match) throw new CliError(`invalid publish spec "${text}": expected [ip:]hostPort:containerPort[/tcp|udp]`);
  const [, hostIp, hostPort, containerPort, protocol] = match;
  return {
    hostIp: hostIp ?? '0.0.0.0',
    hostPort: hostPort ? Number(hostPort) : 0,
    containerPort: Number(containerPort),
    protocol: (protocol ?? 'tcp') as 'tcp' | 'udp',
  };
}

const PUBLISH_KEYS = new Set(['mode', 'published', 'target', 'protocol']);

/**
 * `service --publish`: the short form (an ingress port, the routing mesh's, as in Swarm) or the long
 * form `mode=host|ingress,published=8080,target=80[,protocol=udp]`.
 */
export function parseServicePublish(text: string) {
  if (!text.includes('=')) return { ...parsePublish(text), mode: 'ingress' as const };
  const fields = new Map<string, string>();
  for (const part of text.split(',')) {
    const [k = '', v = ''] = part.split('=', 2).map((x) => x.trim());
    if (!PUBLISH_KEYS.has(k)) throw new CliError(`invalid publish spec "${text}": ${k || 'an empty field'} is not supported (mode, published, target, protocol)`);
    fields.set(k, v);
  }
  const mode = fields.get('mode') ?? 'ingress';
  const protocol = fields.get('protocol') ?? 'tcp';
  const number = (key: string) => {
    const value = fields.get(key);
    if (value === undefined || !/^\d{1,5}$/.test(value)) throw new CliError(`invalid publish spec "${text}": ${key} must be a port number`);
    return Number(value);
  };
  if (mode !== 'ingress' && mode !== 'host') throw new CliError(`invalid publish spec "${text}": mode must be ingress or host`);
  if (protocol !== 'tcp' && protocol !== 'udp') throw new CliError(`invalid publish spec "${text}": protocol must be tcp or udp`);
  return { hostIp: '0.0.0.0', hostPort: number('published'), containerPort: number('target'), protocol: protocol as 'tcp' | 'udp', mode: mode as 'ingress' | 'host' };
}

/** `-v /host:/ctr[:ro]` (bind) or `-v name:/ctr[:ro]` (named volume). */
export function parseVolume(text: string) {
  const parts = text.split(':');
  if (parts.length < 2 || parts.length > 3 || (parts[2] !== undefined && !['ro', 'rw'].includes(parts[2])))
    throw new CliError(`invalid volume spec "${text}": expected source:/target[:ro]`);
  return {
    kind: parts[0].startsWith('/') ? ('bind' as const) : ('volume' as const),
    source: parts[0],
    target: parts[1],
    readOnly: parts[2] === 'ro',
  };
}

/** `muelle run -v`: also a container path alone (`-v /data`), a new anonymous volume as with docker run. */
export function parseRunVolume(text: string) {
  if (text.startsWith('/') && !text.includes(':')) return { kind: 'volume' as const, target: text, readOnly: false };
  return parseVolume(text);
}

/** `512m`, `1g`, `1048576` → bytes (docker's binary units). */
export function parseMemory(text: string): number {
  const match = /^(\d+(?:\.\d+)?)([bkmg]?)b?$/i.exec(text.trim());
  if (!match) throw new CliError(`invalid memory "${text}": expected e.g. 512m or 1g`);
  const factor = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[match[2].toLowerCase() as '' | 'b' | 'k' | 'm' | 'g'];
  return Math.round(Number(match[1]) * factor);
}

/** `no`, `always`, `unless-stopped`, `on-failure[:N]`. */
export function parseRestart(text: string) {
  const [name, retries] = text.split(':');
  if (!['no', 'always', 'unless-stopped', 'on-failure'].includes(name) || (retries !== undefined && (name !== 'on-failure' || !/^\d+$/.test(retries)))) {
    throw new CliError(`invalid restart policy "${text}": no, always, unless-stopped or on-failure[:max-retries]`);
  }
  return {
    name: name as 'no' | 'always' | 'unless-stopped' | 'on-failure',
    maxRetries: retries ? Number(retries) : 0,
  };
}

/** `key=value` pairs (labels, constraints, filters). */
export function parsePairs(list: string[], what: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const item of list) {
    const index = item.indexOf('=');
    if (index <= 0) throw new CliError(`invalid ${what} "${item}": expected key=value`);
    result[item.slice(0, index)] = item.slice(index + 1);
  }
  return result;
}

/** `-e KEY=value`, or `-e KEY` taking the value from this environment, like docker. */
export function parseEnv(list: string[], env: NodeJS.ProcessEnv = process.env): string[] {
  return list.flatMap((item) => (item.includes('=') ? [item] : env[item] !== undefined ? [`${item}=${env[item]}`] : []));
}

/** `--ulimit name=soft[:hard]` (hard defaults to soft), like docker; `-1` is unlimited. */
export function parseUlimit(text: string) {
  const match = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(text);
  if (!match) throw new CliError(`invalid ulimit "${text}": expected name=soft[:hard], e.g. nofile=1024:2048`);
  return { name: match[1], soft: Number(match[2]), hard: Number(match[3] ?? match[2]) };
}

/** `--security-opt`: only `seccomp=unconfined` changes anything; `no-new-privileges` is always on. */
export function parseSecurityOpts(list: string[]): 'default' | 'unconfined' {
  let seccomp: 'default' | 'unconfined' = 'default';
  for (const option of list) {
    if (option === 'seccomp=unconfined') seccomp = 'unconfined';
    else if (!['no-new-privileges', 'no-new-privileges=true', 'no-new-privileges:true'].includes(option))
      throw new CliError(`--security-opt ${option} is not supported by Muelle (only seccomp=unconfined; no-new-privileges is always on)`);
  }
  return seccomp;
}

/** `--pids-limit N`: a positive number of processes. */
export function parsePidsLimit(text: string): number {
  if (!/^[1-9]\d{0,8}$/.test(text)) throw new CliError(`invalid --pids-limit "${text}": a positive number of processes`);
  return Number(text);
}

/** `8g`, `512m`, `1073741824` → bytes; `none` → null (no limit). For quotas. */
export function parseBytesOrNone(text: string): number | null {
  return text === 'none' ? null : parseMemory(text);
}

/**
 * `--since`/`--until` as docker reads them: a duration back from now (`10m`, `1h30m`, `90s`), unix
 * seconds (`1700000000.5`) or an RFC 3339 time (`2026-12-03T15:00:00Z`); → ISO.
 */
export function parseTimeBound(text: string, flag: string, now = Date.now()): string {
  const value = text.trim();
  if (/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(value)) {
    const units: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
    let ms = 0;
    for (const [, amount, unit] of value.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) ms += Number(amount) * (units[unit as string] as number);
    return new Date(now - ms).toISOString();
  }
  if (/^\d+(\.\d+)?$/.test(value)) return new Date(Number(value) * 1000).toISOString();
  const time = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(value) ? Date.parse(value) : NaN;
  if (!Number.isFinite(time)) throw new CliError(`invalid ${flag} "${text}": a duration (10m, 1h30m), unix seconds or an RFC 3339 time`);
  return new Date(time).toISOString();
}

/** `--health-interval 5s` etc.: Go durations as docker reads them, in ms; 0 keeps the image's value. */
function parseHealthDuration(text: string, option: string): number {
  let ns: number;
  try {
    ns = parseGoDuration(text);
  } catch {
    throw new CliError(`invalid --${option} "${text}": a duration like 500ms, 10s or 1m30s`);
  }
  if (ns < 0 || (ns > 0 && ns < 1e6)) throw new CliError(`invalid --${option} "${text}": 0 or at least 1ms`);
  return Math.round(ns / 1e6);
}

/** `--health-cmd/--health-interval/--health-timeout/--health-start-period/--health-retries/--no-healthcheck` → the spec's healthcheck. */
export function parseHealthcheck(o: { healthCmd?: string; healthInterval?: string; healthTimeout?: string; healthStartPeriod?: string; healthRetries?: string; healthcheck?: boolean }) {
  const tuned = o.healthInterval !== undefined || o.healthTimeout !== undefined || o.healthStartPeriod !== undefined || o.healthRetries !== undefined;
  if (o.healthcheck === false) {
    if (o.healthCmd !== undefined || tuned) throw new CliError('--no-healthcheck conflicts with the --health-* options');
    return { test: ['NONE'] };
  }
  if (o.healthCmd === undefined && !tuned) return undefined;
  if (o.healthRetries !== undefined && !/^\d{1,4}$/.test(o.healthRetries)) throw new CliError(`invalid --health-retries "${o.healthRetries}": a number of failures`);
  return {
    test: o.healthCmd !== undefined ? ['CMD-SHELL', o.healthCmd] : undefined,
    intervalMs: o.healthInterval !== undefined ? parseHealthDuration(o.healthInterval, 'health-interval') : undefined,
    timeoutMs: o.healthTimeout !== undefined ? parseHealthDuration(o.healthTimeout, 'health-timeout') : undefined,
    startPeriodMs: o.healthStartPeriod !== undefined ? parseHealthDuration(o.healthStartPeriod, 'health-start-period') : undefined,
    retries: o.healthRetries !== undefined ? Number(o.healthRetries) : undefined,
  };
}

const HOST_MODES = ['bridge', 'host', 'none'];

/**
 * `--network` (repeatable) and `--network-alias` → the create body's `network` and `networks`:
 * bridge/host/none alone, or the team's networks in the order given (eth0 first, with the default
 * route); the aliases are the container's names on the first of them.
 */
export function parseNetworks(networks: string[], aliases: string[]) {
  const asked = networks.length ? networks : ['bridge'];
  const mode = asked.find((n) => HOST_MODES.includes(n));
  if (mode) {
    if (asked.length > 1) throw new CliError(`--network ${mode} cannot be combined with other networks`);
    if (aliases.length) throw new CliError("--network-alias needs --network with one of your team's networks");
    return { network: mode };
  }
  const [first, ...rest] = asked;
  return { network: 'bridge', networks: [aliases.length ? { network: first!, aliases } : first!, ...rest] };
}
