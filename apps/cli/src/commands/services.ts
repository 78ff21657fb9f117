import { Command } from 'commander';
import type { Io } from '../commands';
import { CliError } from '../errors';
import { containerStatus, ports, shortId, table, taskError } from '../format';
import { collect, parseEnv, parseHealthcheck, parseMemory, parsePairs, parseServicePublish, parseVolume } from '../parse';
import { apiClient, formatOption, printJson } from './common';

/** `--update-*` flags → the service's updateConfig (only what was given). */
function updateConfigOf(o: any) {
  const config: Record<string, unknown> = {};
  if (o.updateParallelism !== undefined) config.parallelism = count(o.updateParallelism, '--update-parallelism');
  if (o.updateDelay !== undefined) config.delayMs = millis(o.updateDelay, '--update-delay');
  if (o.updateMonitor !== undefined) config.monitorMs = millis(o.updateMonitor, '--update-monitor');
  if (o.updateOrder !== undefined) config.order = o.updateOrder;
  if (o.updateFailureAction !== undefined) config.failureAction = o.updateFailureAction;
  if (o.updateMaxFailureRatio !== undefined) config.maxFailureRatio = ratio(o.updateMaxFailureRatio, '--update-max-failure-ratio');
  return config;
}

/** `--restart-*` flags → the service's restartPolicy (only what was given). */
export function restartPolicyOf(o: any) {
  const policy: Record<string, unknown> = {};
  if (o.restartCondition !== undefined) policy.condition = o.restartCondition;
  if (o.restartDelay !== undefined) policy.delayMs = millis(o.restartDelay, '--restart-delay');
  if (o.restartMaxAttempts !== undefined) policy.maxAttempts = count(o.restartMaxAttempts, '--restart-max-attempts');
  if (o.restartWindow !== undefined) policy.windowMs = millis(o.restartWindow, '--restart-window');
  return policy;
}

function ratio(text: string, flag: string): number {
  const value = Number(text);
  if (!/^\d*\.?\d+$/.test(text) || value > 1) throw new CliError(`invalid ${flag} "${text}": a number from 0 to 1`);
  return value;
}

function count(text: string, flag: string): number {
  if (!/^\d{1,4}$/.test(text)) throw new CliError(`invalid ${flag} "${text}": a whole number`);
  return Number(text);
}

/** `500ms`, `10s`, `2m`, `1h` or plain milliseconds. */
function millis(text: string, flag: string): number {
  const match = /^(\d+)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new CliError(`invalid ${flag} "${text}": e.g. 500ms, 10s, 2m or 1h`);
  return Number(match[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(match[2] ?? 'ms') as 'ms' | 's' | 'm' | 'h'];
}

/**
 * `--network NAME` or Docker's long form `--network name=NAME,alias=A,alias=B` → a service network.
 */
export function parseServiceNetwork(text: string): { network: string; aliases: string[] } {
  if (!text.includes('=')) return { network: text, aliases: [] };
  let network: string | undefined;
  const aliases: string[] = [];
  for (const part of text.split(',')) {
    const [key, value] = [part.slice(0, part.indexOf('=')), part.slice(part.indexOf('=') + 1)];
    if (key === 'name' && value) network = value;
    else if (key === 'alias' && value) aliases.push(value);
    else throw new CliError(`invalid --network "${text}": ${key || part} is not supported by Muelle (name=NAME and alias=ALIAS only)`);
  }
  if (!network) throw new CliError(`invalid --network "${text}": name=NAME is needed`);
  return { network, aliases };
}

/** `service update --network-rm/--network-add`, applied in that order (as Docker's) to the service's networks. */
export function changedNetworks(current: Array<{ network: string; aliases: string[] }>, rm: string[], add: string[]) {
  for (const name of rm) if (!current.some((n) => n.network === name)) throw new CliError(`--network-rm ${name}: the service is not on that network`);
  const removed = current.filter((n) => !rm.includes(n.network));
  const added = add.map(parseServiceNetwork);
  for (const n of added) if (removed.some((m) => m.network === n.network)) throw new CliError(`--network-add ${n.network}: the service is already on that network`);
  return [...removed, ...added];
}

/** The spec fields `service create` and `service update` share, from their flags (only those given). */
function specOf(o: any, command: string[] | undefined) {
  const spec: Record<string, unknown> = {};
  if (command?.length) spec.command = command;
  if (o.entrypoint !== undefined) spec.entrypoint = [o.entrypoint];
  if (o.env?.length) spec.env = parseEnv(o.env);
  if (o.workdir !== undefined) spec.workingDir = o.workdir;
  if (o.user !== undefined) spec.user = o.user;
  if (o.publish?.length) spec.ports = o.publish.map(parseServicePublish);
  if (o.mount?.length) spec.volumes = o.mount.map(parseVolume);
  if (o.label?.length) spec.labels = parsePairs(o.label, 'label');
  if (o.constraint?.length) spec.constraints = parsePairs(o.constraint, 'constraint');
  if (o.memory !== undefined || o.cpus !== undefined) spec.resources = { memoryBytes: o.memory ? parseMemory(o.memory) : undefined, cpus: o.cpus ? Number(o.cpus) : undefined };
  if (o.replicas !== undefined) spec.replicas = count(o.replicas, '--replicas');
  const restartPolicy = restartPolicyOf(o);
  if (Object.keys(restartPolicy).length) spec.restartPolicy = restartPolicy;
  if (o.network?.length) spec.networks = o.network.map(parseServiceNetwork);
  const healthcheck = parseHealthcheck(o);
  if (healthcheck) spec.healthcheck = healthcheck;
  const updateConfig = updateConfigOf(o);
  if (Object.keys(updateConfig).length) spec.updateConfig = updateConfig;
  return spec;
}

function specOptions(command: Command): Command {
  return command
    .option('--replicas <n>', 'number of tasks')
    .option('-e, --env <KEY=value>', 'environment variable', collect, [])
    .option('-p, --publish <spec>', 'hostPort:containerPort[/proto]: published on every host, balanced over the healthy tasks (routing mesh); mode=host,published=P,target=C[,protocol=udp]: only on the hosts that run a task, one task per host', collect, [])
    .option('--mount <spec>', 'source:/target[:ro]', collect, [])
    .option('-l, --label <key=value>', 'label of every task', collect, [])
    .option('--constraint <key=value>', 'host label a task host must have', collect, [])
    .option('-w, --workdir <dir>')
    .option('-u, --user <user>')
    .option('--entrypoint <cmd>')
    .option('-m, --memory <bytes>', 'memory limit per task, e.g. 256m')
    .option('--cpus <n>', 'CPUs per task')
    .option('--restart-condition <condition>', 'any, on-failure or none: which exited tasks are replaced')
    .option('--restart-delay <duration>', 'wait after a task failed before its replacement is made (default 5s)')
    .option('--restart-max-attempts <n>', 'failed tasks replaced within the window before the rest are left (0: no limit)')
    .option('--restart-window <duration>', 'how far back failures count against max attempts (0: since the spec changed)')
    .option('--health-cmd <command>', 'health check run in each task by /bin/sh -c')
    .option('--health-interval <duration>', 'time between checks, e.g. 5s')
    .option('--health-timeout <duration>', 'a check running longer fails')
    .option('--health-start-period <duration>', 'failures in this time after start do not count')
    .option('--health-retries <n>', 'failures in a row before unhealthy')
    .option('--no-healthcheck', "disable the image's HEALTHCHECK")
    .option('--update-parallelism <n>', 'tasks replaced at once (0: all)')
    .option('--update-delay <duration>', 'wait between batches, e.g. 5s')
    .option('--update-monitor <duration>', 'how long a new task must run to count (without a health check)')
    .option('--update-order <order>', 'stop-first or start-first')
    .option('--update-failure-action <action>', 'pause, rollback or continue')
    .option('--update-max-failure-ratio <ratio>', 'share of the replicas whose new tasks may fail before the failure action (0 to 1; default 0)');
}

const replicasOf = (service: any, tasks: any[]) => `${tasks.filter((t) => t.state === 'running' && t.labels['muelle.service.version'] === String(service.version)).length}/${service.spec.replicas}`;

/** `muelle service create|ls|ps|inspect|scale|update|rollback|logs|rm`. */
export function registerServiceCommands(program: Command, io: Io): Command {
  const service = program.command('service').description('Services: replicated tasks kept running and updated in rolling batches');

  specOptions(service.command('create').argument('<image>').argument('[command...]').passThroughOptions().requiredOption('--name <name>', 'service name (a DNS label)'))
    .option('--network <network>', 'team network the tasks join, NAME or name=NAME,alias=ALIAS (repeatable)', collect, [])
    .addOption(formatOption())
    .action(async (image: string, command: string[], o) => {
      const created = await apiClient().request('POST', '/v1/services', { body: { name: o.name, image, ...specOf(o, command) } });
      if (o.format === 'json') return printJson(io, created);
      io.out.write(`${created.id}\n`);
    });

  service
    .command('ls')
    .addOption(formatOption())
    .action(async (o) => {
      const api = apiClient();
      const { items } = await api.request('GET', '/v1/services');
      if (o.format === 'json') return printJson(io, items);
      const rows = [];
      for (const s of items) {
        const tasks = (await api.request('GET', `/v1/services/${s.id}/tasks`)).items;
        rows.push([shortId(s.id), s.name, replicasOf(s, tasks), s.spec.image, ports(s.spec.ports.filter((p: any) => p.hostPort)), s.updateState]);
      }
      io.out.write(table(['ID', 'NAME', 'REPLICAS', 'IMAGE', 'PORTS', 'UPDATE'], rows));
    });

  service
    .command('ps')
    .argument('<service>')
    .addOption(formatOption())
    .action(async (ref: string, o) => {
      const api = apiClient();
      const { items } = await api.request('GET', `/v1/services/${encodeURIComponent(ref)}/tasks`);
      if (o.format === 'json') return printJson(io, items);
      // A task the restart policy left says why (max_attempts reached) in place of the plain exit.
      const { restartHistory = [] } = await api.request('GET', `/v1/services/${encodeURIComponent(ref)}`);
      const left = new Map<string, string>(restartHistory.filter((e: any) => !e.restarted).map((e: any) => [e.task, `task: ${e.reason}`]));
      const row = (t: any) => [shortId(t.id), t.name, t.labels['muelle.service.version'] ?? '', t.hostId ?? '', containerStatus(t), left.get(t.id) ?? taskError(t)];
      io.out.write(table(['TASK', 'NAME', 'VERSION', 'HOST', 'STATUS', 'ERROR'], items.map(row)));
    });

  service
    .command('inspect')
    .argument('<service>')
    .action(async (ref: string) => {
      const s = await apiClient().request('GET', `/v1/services/${encodeURIComponent(ref)}`);
      // Docker's spelling of where the last update stands, beside the record's own fields.
      printJson(io, { ...s, UpdateStatus: { State: s.updateState, Message: s.updateMessage } });
    });

  service
    .command('scale')
    .argument('<service=replicas...>')
    .action(async (pairs: string[]) => {
      const api = apiClient();
      for (const pair of pairs) {
        const [name, replicas] = pair.split('=');
        if (!name || replicas === undefined) throw new CliError(`invalid "${pair}": write service=replicas`);
        await api.request('POST', `/v1/services/${encodeURIComponent(name)}/scale`, { body: { replicas: count(replicas, 'replicas') } });
        io.out.write(`${name} scaled to ${replicas}\n`);
      }
    });

  specOptions(service.command('update').argument('<service>').argument('[command...]', 'new command (after the service; options go before it)').passThroughOptions().option('--image <image>', 'new image'))
    .option('--network-add <network>', 'join a team network, NAME or name=NAME,alias=ALIAS (repeatable)', collect, [])
    .option('--network-rm <network>', 'leave a network (repeatable)', collect, [])
    .action(async (ref: string, command: string[], o) => {
      const api = apiClient();
      const body: Record<string, unknown> = { ...specOf(o, command), ...(o.image && { image: o.image }) };
      const query: Record<string, string> = {};
      if (o.networkAdd.length || o.networkRm.length) {
        // The networks are computed from the ones read: the api refuses the change (409) if another changed them since.
        const current = await api.request('GET', `/v1/services/${encodeURIComponent(ref)}`);
        body.networks = changedNetworks(current.spec.networks ?? [], o.networkRm, o.networkAdd);
        query.version = String(current.version);
      }
      const updated = await api.request('PATCH', `/v1/services/${encodeURIComponent(ref)}`, { body, query });
      io.out.write(`${updated.name} version ${updated.version} (${updated.updateState})\n`);
    });

  service
    .command('rollback')
    .argument('<service>')
    .action(async (ref: string) => {
      const updated = await apiClient().request('POST', `/v1/services/${encodeURIComponent(ref)}/rollback`);
      io.out.write(`${updated.name} version ${updated.version} (${updated.updateState})\n`);
    });

  service
    .command('logs')
    .argument('<service>')
    .option('-n, --tail <n>', 'last lines of each task', '100')
    .option('-t, --timestamps', 'show times')
    .action(async (ref: string, o) => {
      const { lines } = await apiClient().request('GET', `/v1/services/${encodeURIComponent(ref)}/logs`, { query: { tail: o.tail, timestamps: String(!!o.timestamps) } });
      for (const l of lines) (l.stream === 'stderr' ? io.err : io.out).write(`${l.task}@${l.hostId} | ${o.timestamps ? `${l.time} ` : ''}${l.line}\n`);
    });

  service
    .command('rm')
    .argument('<service...>')
    .action(async (refs: string[]) => {
      for (const ref of refs) {
        await apiClient().request('DELETE', `/v1/services/${encodeURIComponent(ref)}`);
        io.out.write(`${ref}\n`);
      }
    });

  return service;
}

