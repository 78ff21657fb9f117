import { isMap, isScalar, LineCounter, Node, parseDocument, YAMLMap } from 'yaml';
import { parseGoDuration } from '@muelle/dockerfile/duration';
import { CliError } from '../errors';
import { parseMemory, parsePublish, parseVolume } from '../parse';

/** A compose file error: the file, line and field it is about. */
export class ComposeError extends CliError {}

export interface StackService {
  /** The name in the compose file. */
  name: string;
  /** What `POST /v1/services` takes (without the name). */
  spec: Record<string, unknown>;
  /** Services that must run (or be healthy) before this one is deployed. */
  dependsOn: Array<{ service: string; condition: 'service_started' | 'service_healthy' }>;
  /** `build:`: built with the platform's builder before deploy; the context is relative to the file's folder. */
  build?: { context: string; dockerfile: string; args: string[]; target?: string };
  /** The file's networks it joins (`default` when it names none), with its aliases on each. */
  networks: Array<{ name: string; aliases: string[] }>;
}

/** A network of the file's top-level `networks:` (and `default`, always there). */
export interface StackNetwork {
  /** The name in the file. */
  name: string;
  /** `external: true`: an existing team network of that name (or of `name:`), neither made nor removed by the stack. */
  external: string | null;
  driver: 'overlay' | 'bridge';
  internal: boolean;
}

export interface ComposeStack {
  services: StackService[];
  networks: StackNetwork[];
}

/** Keys of a compose service Muelle deploys; anything else is refused by name. */
const SERVICE_KEYS = new Set(['image', 'build', 'command', 'entrypoint', 'environment', 'env_file', 'ports', 'volumes', 'networks', 'depends_on', 'healthcheck', 'labels', 'deploy', 'working_dir', 'user', 'stop_signal', 'stop_grace_period', 'restart']);
const DEPLOY_KEYS = new Set(['replicas', 'resources', 'placement', 'update_config', 'restart_policy', 'labels', 'mode']);
const TOP_KEYS = new Set(['version', 'name', 'services', 'networks', 'volumes']);
const NETWORK_KEYS = new Set(['driver', 'internal', 'external', 'name']);

/**
 * Reads a Compose file (the Compose specification's subset Muelle runs) into service specs. Errors
 * name the file, the line and the field (`compose.yaml:12: services.web.privileged is not supported`).
 */
export function parseComposeFile(text: string, file: string, readEnvFile: (path: string) => string): ComposeStack {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const at = (node: Node | null | undefined) => (node?.range ? lines.linePos(node.range[0]).line : 1);
  const fail = (node: Node | null | undefined, message: string): never => {
    throw new ComposeError(`${file}:${at(node)}: ${message}`);
  };
  if (doc.errors.length) {
    const error = doc.errors[0]!;
    throw new ComposeError(`${file}:${lines.linePos(error.pos[0]).line}: ${error.message.split("\n")[0]}`);
  }
  const root = doc.contents;
  if (!isMap(root)) return fail(root, 'the file must be a mapping with a services key');
  for (const pair of root.items) if (!TOP_KEYS.has(keyOf(pair.key))) fail(pair.key as Node, `${keyOf(pair.key)} is not supported by Muelle (top level)`);
  const services = root.get('services', true);
  if (!isMap(services) || !services.items.length) return fail(services ?? root, 'services: at least one service is needed');
  const volumes = root.get('volumes', true);
  if (!isEmpty(volumes)) {
    if (!isMap(volumes)) return fail(volumes, 'volumes must be a mapping');
    for (const pair of volumes.items) if (!isEmpty(pair.value as Node | null)) fail(pair.value as Node, `volumes.${keyOf(pair.key)}: options (driver, external, …) are not supported by Muelle`);
  }
  const networks = readNetworks(root.get('networks', true) as Node | undefined, fail);
  const result: StackService[] = [];
  for (const pair of services.items) {
    const name = keyOf(pair.key);
    if (!/^[a-z0-9]([a-z0-9-]{0,40}[a-z0-9])?$/.test(name)) fail(pair.key as Node, `services.${name}: a service name must be lowercase letters, digits and - (at most 42)`);
    const node = pair.value;
    if (!isMap(node)) return fail((node as Node) ?? (pair.key as Node), `services.${name} must be a mapping`);
    result.push(readService(name, node, (n, m) => fail(n, `services.${name}.${m}`), readEnvFile));
  }
  const names = new Set(result.map((s) => s.name));
  for (const service of result) for (const dep of service.dependsOn) if (!names.has(dep.service)) throw new ComposeError(`${file}: services.${service.name}.depends_on: no service ${dep.service} in the file`);
  const declared = new Set(networks.map((n) => n.name));
  for (const pair of services.items) {
    const service = result.find((s) => s.name === keyOf(pair.key))!;
    for (const n of service.networks) if (!declared.has(n.name)) fail((pair.value as YAMLMap).get('networks', true) as Node, `services.${service.name}.networks: ${n.name} is not declared in the top-level networks`);
  }
  return { services: result, networks };
}

/** Top-level `networks:` (driver overlay|bridge, internal, external with an optional name); `default` is always there. */
function readNetworks(section: Node | undefined, fail: Fail): StackNetwork[] {
  const networks: StackNetwork[] = [];
  if (!isEmpty(section)) {
    if (!isMap(section)) return fail(section, 'networks must be a mapping');
    for (const pair of section.items) {
      const name = keyOf(pair.key);
      if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,39}$/.test(name)) fail(pair.key as Node, `networks.${name}: a network name is letters, digits, _ . and - (at most 40)`);
      const value = pair.value as Node | null;
      const network: StackNetwork = { name, external: null, driver: 'overlay', internal: false };
      if (!isEmpty(value)) {
        if (!isMap(value)) return fail(value, `networks.${name} must be a mapping`);
        const at = (key: string) => value.get(key, true) as Node;
        for (const option of value.items) if (!NETWORK_KEYS.has(keyOf(option.key))) fail(option.key as Node, `networks.${name}.${keyOf(option.key)} is not supported by Muelle (driver, internal, external, name)`);
        const raw = value.toJSON() as Record<string, unknown>;
        if (raw.driver !== undefined && raw.driver !== 'overlay' && raw.driver !== 'bridge') fail(at('driver'), `networks.${name}.driver: ${String(raw.driver)} is not supported by Muelle (overlay or bridge)`);
        if (raw.driver !== undefined) network.driver = raw.driver as StackNetwork['driver'];
        if (raw.internal !== undefined && typeof raw.internal !== 'boolean') fail(at('internal'), `networks.${name}.internal must be true or false`);
        network.internal = raw.internal === true;
        if (raw.external !== undefined && typeof raw.external !== 'boolean') fail(at('external'), `networks.${name}.external must be true or false`);
        if (raw.name !== undefined && raw.external !== true) fail(at('name'), `networks.${name}.name is supported by Muelle only with external: true`);
        if (raw.external === true) {
          if (raw.driver !== undefined || raw.internal !== undefined) fail(at('external'), `networks.${name}: an external network takes no driver or internal (it exists already)`);
          network.external = typeof raw.name === 'string' ? raw.name : name;
        }
      }
      networks.push(network);
    }
  }
  if (!networks.some((n) => n.name === 'default')) networks.push({ name: 'default', external: null, driver: 'overlay', internal: false });
  return networks;
}

/** A service's `networks:`, a list of names or a mapping of names to `aliases` (or nothing). */
function serviceNetworks(raw: unknown, node: Node | undefined, fail: Fail): StackService['networks'] {
  if (raw === undefined || raw === null) return [{ name: 'default', aliases: [] }];
  if (Array.isArray(raw)) return raw.map((name) => (typeof name === 'string' ? { name, aliases: [] } : fail(node, 'networks: a list of network names')));
  if (typeof raw !== 'object') return fail(node, 'networks must be a list or a mapping');
  return Object.entries(raw as Record<string, unknown>).map(([name, options]) => {
    if (options === null || options === undefined) return { name, aliases: [] };
    if (typeof options !== 'object') return fail(node, `networks.${name} must be a mapping`);
    for (const key of Object.keys(options)) if (key !== 'aliases') fail(node, `networks.${name}.${key} is not supported by Muelle (aliases only)`);
    const aliases = (options as { aliases?: unknown }).aliases ?? [];
    if (!Array.isArray(aliases) || !aliases.every((a) => typeof a === 'string')) return fail(node, `networks.${name}.aliases must be a list of names`);
    return { name, aliases };
  });
}

type Fail = (node: Node | null | undefined, message: string) => never;

function readService(name: string, node: YAMLMap, fail: Fail, readEnvFile: (path: string) => string): StackService {
  const value = (key: string) => node.get(key, true) as Node | undefined;
  for (const pair of node.items) if (!SERVICE_KEYS.has(keyOf(pair.key))) fail(pair.key as Node, `${keyOf(pair.key)} is not supported by Muelle`);
  const js = (key: string) => (value(key) as Node | undefined)?.toJSON() as unknown;
  const spec: Record<string, unknown> = {};
  const image = js('image');
  const build = js('build') === undefined ? undefined : readBuild(js('build'), value('build'), fail);
  if (image !== undefined || !build) {
    if (typeof image !== 'string' || !image) fail(value('image') ?? node, 'image: every service needs an image or a build');
    spec.image = image;
  }
  for (const [key, field] of [['command', 'command'], ['entrypoint', 'entrypoint']] as const) {
    const v = js(key);
    if (v === undefined || v === null) continue;
    if (typeof v === 'string') spec[field] = ['/bin/sh', '-c', v];
    else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) spec[field] = v;
    else fail(value(key), `${key} must be a string or a list of strings`);
  }
  const env: string[] = [];
  for (const file of listOf(js('env_file'))) {
    if (typeof file !== 'string') fail(value('env_file'), 'env_file must be a path or a list of paths');
    for (const line of readEnvFile(file as string).split('\n')) if (line.trim() && !line.trim().startsWith('#')) env.push(line.trim());
  }
  env.push(...pairsOf(js('environment'), value('environment'), 'environment', fail).map(([k, v]) => `${k}=${v}`));
  if (env.length) spec.env = env;
  const labels = Object.fromEntries(pairsOf(js('labels'), value('labels'), 'labels', fail));
  if (Object.keys(labels).length) spec.labels = labels;
  if (js('working_dir') !== undefined) spec.workingDir = js('working_dir');
  if (js('user') !== undefined) spec.user = String(js('user'));
  if (js('stop_signal') !== undefined) spec.stopSignal = js('stop_signal');
  if (js('stop_grace_period') !== undefined) spec.stopTimeoutSeconds = Math.round(duration(js('stop_grace_period'), value('stop_grace_period'), 'stop_grace_period', fail) / 1000);
  const ports = listOf(js('ports')).map((p) => port(p, value('ports'), fail));
  if (ports.length) spec.ports = ports;
  const volumes = listOf(js('volumes')).map((v) => volume(v, value('volumes'), fail));
  if (volumes.length) spec.volumes = volumes;
  const healthcheck = js('healthcheck');
  if (healthcheck !== undefined) spec.healthcheck = health(healthcheck, value('healthcheck'), fail);
  const restart = js('restart');
  if (restart !== undefined) {
    const conditions: Record<string, string> = { no: 'none', always: 'any', 'unless-stopped': 'any', 'on-failure': 'on-failure' };
    if (typeof restart !== 'string' || !conditions[restart]) fail(value('restart'), 'restart: no, always, unless-stopped or on-failure');
    spec.restartPolicy = { condition: conditions[restart as string] };
  }
  const deploy = value('deploy');
  if (deploy) readDeploy(deploy, spec, fail);
  return { name, spec, dependsOn: dependencies(js('depends_on'), value('depends_on'), fail), networks: serviceNetworks(js('networks'), value('networks'), fail), ...(build && { build }) };
}

/** `build: ./dir` or `build: { context, dockerfile, args, target }`; other build options are refused by name. */
function readBuild(raw: unknown, node: Node | undefined, fail: Fail): NonNullable<StackService['build']> {
  if (typeof raw === 'string' && raw) return { context: raw, dockerfile: 'Dockerfile', args: [] };
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return fail(node, 'build must be a path or a mapping');
  const options = raw as Record<string, unknown>;
  for (const key of Object.keys(options)) if (!['context', 'dockerfile', 'args', 'target'].includes(key)) fail(node, `build.${key} is not supported by Muelle (context, dockerfile, args, target)`);
  const text = (key: string, fallback?: string) => {
    const v = options[key] ?? fallback;
    if (v !== undefined && (typeof v !== 'string' || !v)) fail(node, `build.${key} must be a string`);
    return v as string | undefined;
  };
  const args = pairsOf(options.args, node, 'build.args', fail).map(([k, v]) => `${k}=${v}`);
  const target = text('target');
  return { context: text('context', '.')!, dockerfile: text('dockerfile', 'Dockerfile')!, args, ...(target && { target }) };
}

function readDeploy(node: Node, spec: Record<string, unknown>, fail: Fail): void {
  if (!isMap(node)) return fail(node, 'deploy must be a mapping');
  for (const pair of node.items) if (!DEPLOY_KEYS.has(keyOf(pair.key))) fail(pair.key as Node, `deploy.${keyOf(pair.key)} is not supported by Muelle`);
  const deploy = node.toJSON() as Record<string, any>;
  if (deploy.mode !== undefined && deploy.mode !== 'replicated') fail(node.get('mode', true) as Node, `deploy.mode: ${deploy.mode} is not supported by Muelle (replicated only)`);
  if (deploy.replicas !== undefined) spec.replicas = integer(deploy.replicas, node, 'deploy.replicas', fail);
  if (deploy.labels !== undefined) fail(node.get('labels', true) as Node, 'deploy.labels (labels of the service itself) is not supported by Muelle; use labels');
  const limits = deploy.resources?.limits ?? {};
  for (const key of Object.keys(deploy.resources ?? {})) if (key !== 'limits') fail(node, `deploy.resources.${key} is not supported by Muelle (limits only)`);
  for (const key of Object.keys(limits)) if (key !== 'cpus' && key !== 'memory') fail(node, `deploy.resources.limits.${key} is not supported by Muelle`);
  if (limits.cpus !== undefined || limits.memory !== undefined) spec.resources = { cpus: limits.cpus !== undefined ? Number(limits.cpus) : undefined, memoryBytes: limits.memory !== undefined ? parseMemory(String(limits.memory).replace(/b$/i, '')) : undefined };
  const constraints: Record<string, string> = {};
  for (const key of Object.keys(deploy.placement ?? {})) if (key !== 'constraints') fail(node, `deploy.placement.${key} is not supported by Muelle`);
  for (const c of deploy.placement?.constraints ?? []) {
    const match = /^node\.labels\.([\w.-]+)\s*==\s*(\S+)$/.exec(String(c));
    if (!match) fail(node, `deploy.placement.constraints: "${c}": only node.labels.<key>==<value>`);
    constraints[match![1]!] = match![2]!;
  }
  if (Object.keys(constraints).length) spec.constraints = constraints;
  const update = deploy.update_config;
  if (update) {
    const config: Record<string, unknown> = {};
    for (const key of Object.keys(update)) if (!['parallelism', 'delay', 'order', 'failure_action', 'monitor', 'max_failure_ratio'].includes(key)) fail(node, `deploy.update_config.${key} is not supported by Muelle`);
    if (update.parallelism !== undefined) config.parallelism = integer(update.parallelism, node, 'deploy.update_config.parallelism', fail);
    if (update.delay !== undefined) config.delayMs = duration(update.delay, node, 'deploy.update_config.delay', fail);
    if (update.monitor !== undefined) config.monitorMs = duration(update.monitor, node, 'deploy.update_config.monitor', fail);
    if (update.order !== undefined) config.order = update.order;
    if (update.failure_action !== undefined) config.failureAction = update.failure_action;
    if (update.max_failure_ratio !== undefined) {
      const ratio = update.max_failure_ratio;
      if (typeof ratio !== 'number' || ratio < 0 || ratio > 1) fail(node, 'deploy.update_config.max_failure_ratio must be a number from 0 to 1');
      config.maxFailureRatio = ratio;
    }
    spec.updateConfig = config;
  }
  const restart = deploy.restart_policy;
  if (restart) {
    const policy: Record<string, unknown> = { ...(spec.restartPolicy as object) };
    for (const key of Object.keys(restart)) if (!['condition', 'delay', 'max_attempts', 'window'].includes(key)) fail(node, `deploy.restart_policy.${key} is not supported by Muelle`);
    if (restart.condition !== undefined) policy.condition = restart.condition;
    if (restart.delay !== undefined) policy.delayMs = duration(restart.delay, node, 'deploy.restart_policy.delay', fail);
    if (restart.max_attempts !== undefined) policy.maxAttempts = integer(restart.max_attempts, node, 'deploy.restart_policy.max_attempts', fail);
    if (restart.window !== undefined) policy.windowMs = duration(restart.window, node, 'deploy.restart_policy.window', fail);
    spec.restartPolicy = policy;
  }
}

function health(raw: any, node: Node | undefined, fail: Fail) {
  if (raw?.disable === true) return { test: ['NONE'] };
  const check: Record<string, unknown> = {};
  for (const key of Object.keys(raw ?? {})) if (!['test', 'interval', 'timeout', 'retries', 'start_period', 'disable'].includes(key)) fail(node, `healthcheck.${key} is not supported by Muelle`);
  if (typeof raw.test === 'string') check.test = ['CMD-SHELL', raw.test];
  else if (Array.isArray(raw.test)) check.test = raw.test;
  if (raw.interval !== undefined) check.intervalMs = duration(raw.interval, node, 'healthcheck.interval', fail);
  if (raw.timeout !== undefined) check.timeoutMs = duration(raw.timeout, node, 'healthcheck.timeout', fail);
  if (raw.start_period !== undefined) check.startPeriodMs = duration(raw.start_period, node, 'healthcheck.start_period', fail);
  if (raw.retries !== undefined) check.retries = integer(raw.retries, node, 'healthcheck.retries', fail);
  return check;
}

function dependencies(raw: unknown, node: Node | undefined, fail: Fail): StackService['dependsOn'] {
  if (raw === undefined || raw === null) return [];
  if (Array.isArray(raw)) return raw.map((service) => ({ service: String(service), condition: 'service_started' as const }));
  if (typeof raw !== 'object') return fail(node, 'depends_on must be a list or a mapping');
  return Object.entries(raw as Record<string, { condition?: string }>).map(([service, options]) => {
    const condition = options?.condition ?? 'service_started';
    if (condition !== 'service_started' && condition !== 'service_healthy') fail(node, `depends_on.${service}.condition: ${condition} is not supported by Muelle (service_started or service_healthy)`);
    return { service, condition: condition as 'service_started' | 'service_healthy' };
  });
}

function port(raw: unknown, node: Node | undefined, fail: Fail) {
  if (typeof raw === 'number' || typeof raw === 'string') {
    try {
      // The short form is an ingress port (the routing mesh), as `docker stack deploy` reads it.
      return { ...parsePublish(String(raw)), mode: 'ingress' };
    } catch (error) {
      return fail(node, `ports: ${(error as Error).message}`);
    }
  }
  const long = raw as { target?: number; published?: number | string; protocol?: string; mode?: string; host_ip?: string };
  if (!long?.target) return fail(node, 'ports: a long port needs target');
  if (long.mode !== undefined && long.mode !== 'host' && long.mode !== 'ingress') fail(node, `ports: mode ${long.mode} is not supported by Muelle (ingress or host)`);
  return { hostIp: long.host_ip ?? '0.0.0.0', hostPort: long.published ? Number(long.published) : 0, containerPort: long.target, protocol: long.protocol ?? 'tcp', mode: long.mode ?? 'ingress' };
}

function volume(raw: unknown, node: Node | undefined, fail: Fail) {
  if (typeof raw === 'string') {
    try {
      return parseVolume(raw);
    } catch (error) {
      return fail(node, `volumes: ${(error as Error).message}`);
    }
  }
  const long = raw as { type?: string; source?: string; target?: string; read_only?: boolean };
  if (long?.type !== 'volume' && long?.type !== 'bind') return fail(node, `volumes: type ${long?.type} is not supported by Muelle (volume or bind)`);
  if (!long.source || !long.target) return fail(node, 'volumes: source and target are needed');
  return { kind: long.type, source: long.source, target: long.target, readOnly: !!long.read_only };
}

function pairsOf(raw: unknown, node: Node | undefined, field: string, fail: Fail): Array<[string, string]> {
  if (raw === undefined || raw === null) return [];
  if (Array.isArray(raw)) {
    return raw.map((entry) => {
      const text = String(entry);
      const index = text.indexOf('=');
      if (index <= 0) fail(node, `${field}: "${text}" is not KEY=value`);
      return [text.slice(0, index), text.slice(index + 1)];
    });
  }
  if (typeof raw !== 'object') return fail(node, `${field} must be a mapping or a list of KEY=value`);
  return Object.entries(raw as Record<string, unknown>).map(([k, v]) => [k, v === null ? '' : String(v)]);
}

function duration(raw: unknown, node: Node | undefined, field: string, fail: Fail): number {
  try {
    const ns = parseGoDuration(String(raw));
    if (ns < 0) throw new Error('negative');
    return Math.round(ns / 1e6);
  } catch {
    // Unparsable or negative: the file's mistake, reported as such.
    return fail(node, `${field}: "${raw}" is not a duration (e.g. 10s, 1m30s)`);
  }
}

function integer(raw: unknown, node: Node | undefined, field: string, fail: Fail): number {
  if (!Number.isInteger(raw) || (raw as number) < 0) fail(node, `${field} must be a whole number`);
  return raw as number;
}

const listOf = (raw: unknown): unknown[] => (raw === undefined || raw === null ? [] : Array.isArray(raw) ? raw : [raw]);
const isEmpty = (node: Node | null | undefined) => node === undefined || node === null || (isScalar(node) && node.value === null) || (isMap(node) && node.items.length === 0);
const keyOf = (key: unknown) => String(isScalar(key) ? key.value : key);
