import { Command, Option } from 'commander';
import { ApiClient } from '../client';
import type { Io } from '../commands';
import { loadConfig } from '../config';
import { CliError } from '../errors';
import { humanBinary, table } from '../format';
import { collect, parseBytesOrNone } from '../parse';

/** The `team` command, made by whichever file registers a subcommand first (team ls|create live elsewhere). */
export function teamCommand(program: Command): Command {
  return program.commands.find((c) => c.name() === 'team') ?? program.command('team').description('Teams: members, policies and quotas (admin)');
}

const formatOption = () => new Option('--format <format>', 'output format: table or json').choices(['table', 'json']).default('table');
const teamPath = (team: string, what: 'policy' | 'quota') => `/v1/teams/${encodeURIComponent(team)}/${what}`;

/** `/srv/x` (read-only), `/srv/x:ro` or `/srv/x:rw`. */
function parseBindGrant(text: string) {
  const match = /^(\/[^:]*)(?::(ro|rw))?$/.exec(text);
  if (!match) throw new CliError(`invalid --allow-bind "${text}": expected /host/path[:ro|:rw]`);
  return { path: match[1], readOnly: match[2] !== 'rw' };
}

function parseCount(text: string): number | null {
  if (text === 'none') return null;
  if (!/^\d{1,9}$/.test(text)) throw new CliError(`invalid --containers "${text}": a number or none`);
  return Number(text);
}

function parseCpus(text: string): number | null {
  if (text === 'none') return null;
  const cpus = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !Number.isFinite(cpus)) throw new CliError(`invalid --cpus "${text}": a number such as 4 or 1.5, or none`);
  return cpus;
}

const onOff = (value: boolean) => (value ? 'allowed' : 'no');

/** `muelle team policy <team> …` and `muelle team quota <team> …` (admin; SECURITY.md §3–4). */
export function registerTeamAdminCommands(program: Command, io: Io): void {
  const team = teamCommand(program);
  const client = () => new ApiClient(loadConfig());

  team
    .command('policy')
    .description("Show or change what a team's members may ask of a host (without options: show)")
    .argument('<team>', 'team name or id')
    .option('--allow-bind <path[:ro|:rw]>', 'host path prefix members may bind-mount (read-only unless :rw; repeatable)', collect, [])
    .option('--allow-cap-add <cap>', 'capability members may add with --cap-add (repeatable)', collect, [])
    .option('--host-network', 'allow --network host')
    .option('--no-host-network', 'refuse --network host')
    .option('--publish-host-ip', 'allow publishing on a chosen host IP')
    .option('--no-publish-host-ip', 'refuse publishing on a chosen host IP')
    .option('--privileged-ports', 'allow publishing on host ports below 1024')
    .option('--no-privileged-ports', 'refuse host ports below 1024')
    .option('--seccomp-unconfined', 'allow --security-opt seccomp=unconfined')
    .option('--no-seccomp-unconfined', 'refuse --security-opt seccomp=unconfined')
    .option('--realtime-priority', 'allow --ulimit rtprio above 0 (real-time scheduling)')
    .option('--no-realtime-priority', 'refuse --ulimit rtprio above 0')
    .option('--reset', 'start from the empty policy (everything refused) instead of the current one')
    .addOption(formatOption())
    .addHelpText('after', '\nExample:\n  $ muelle team policy alpha --allow-bind /srv/x:ro --allow-cap-add NET_ADMIN')
    .action(async (name: string, o) => {
      const api = client();
      const changes = o.allowBind.length || o.allowCapAdd.length || o.reset || [o.hostNetwork, o.publishHostIp, o.privilegedPorts, o.seccompUnconfined, o.realtimePriority].some((v) => v !== undefined);
      let record = await api.request('GET', teamPath(name, 'policy'));
      if (changes) {
        const current = o.reset ? {} : record.policy;
        const policy = {
          bindMounts: [...(current.bindMounts ?? []), ...o.allowBind.map(parseBindGrant)],
          capAdd: [...new Set([...(current.capAdd ?? []), ...o.allowCapAdd.map((c: string) => c.toUpperCase().replace(/^CAP_/, ''))])],
          hostNetwork: o.hostNetwork ?? current.hostNetwork ?? false,
          publishHostIp: o.publishHostIp ?? current.publishHostIp ?? false,
          privilegedPorts: o.privilegedPorts ?? current.privilegedPorts ?? false,
          seccompUnconfined: o.seccompUnconfined ?? current.seccompUnconfined ?? false,
          realtimePriority: o.realtimePriority ?? current.realtimePriority ?? false,
        };
        record = await api.request('PUT', teamPath(name, 'policy'), { body: policy });
      }
      if (o.format === 'json') return void io.out.write(JSON.stringify(record, null, 2) + '\n');
      const p = record.policy;
      io.out.write(
        table(
          ['OPTION', 'POLICY'],
          [
            ['bind mounts', p.bindMounts.length ? p.bindMounts.map((b: { path: string; readOnly: boolean }) => `${b.path}:${b.readOnly ? 'ro' : 'rw'}`).join(', ') : 'no'],
            ['--network host', onOff(p.hostNetwork)],
            ['host IP in -p', onOff(p.publishHostIp)],
            ['host ports < 1024', onOff(p.privilegedPorts)],
            ['--cap-add', p.capAdd.length ? p.capAdd.join(', ') : 'no'],
            ['seccomp=unconfined', onOff(p.seccompUnconfined)],
            ['--ulimit rtprio', onOff(p.realtimePriority)],
          ],
        ),
      );
    });

  team
    .command('quota')
    .description("Show or change a team's quota (without options: show; `none` removes a limit)")
    .argument('<team>', 'team name or id')
    .option('--containers <n>', 'containers holding a reservation (created, running, paused, restarting)')
    .option('--memory <bytes>', 'total --memory of those containers, e.g. 8g')
    .option('--cpus <n>', 'total --cpus of those containers')
    .option('--registry-bytes <bytes>', "bytes of distinct blobs in the team's repositories, e.g. 20g")
    .addOption(formatOption())
    .addHelpText('after', '\nExample:\n  $ muelle team quota alpha --containers 10 --memory 8g --cpus 4 --registry-bytes 20g')
    .action(async (name: string, o) => {
      const api = client();
      let record = await api.request('GET', teamPath(name, 'quota'));
      if ([o.containers, o.memory, o.cpus, o.registryBytes].some((v) => v !== undefined)) {
        const quota = {
          ...record.quota,
          ...(o.containers !== undefined ? { containers: parseCount(o.containers) } : {}),
          ...(o.memory !== undefined ? { memoryBytes: parseBytesOrNone(o.memory) } : {}),
          ...(o.cpus !== undefined ? { cpus: parseCpus(o.cpus) } : {}),
          ...(o.registryBytes !== undefined ? { registryBytes: parseBytesOrNone(o.registryBytes) } : {}),
        };
        record = await api.request('PUT', teamPath(name, 'quota'), { body: quota });
      }
      if (o.format === 'json') return void io.out.write(JSON.stringify(record, null, 2) + '\n');
      const { quota, usage } = record;
      const limit = (value: number | null, show: (n: number) => string = String) => (value === null ? 'unlimited' : show(value));
      io.out.write(
        table(
          ['RESOURCE', 'USED', 'QUOTA'],
          [
            ['containers', String(usage.containers), limit(quota.containers)],
            ['memory', humanBinary(usage.memoryBytes), limit(quota.memoryBytes, humanBinary)],
            ['cpus', String(usage.cpus), limit(quota.cpus)],
            ['registry', humanBinary(usage.registryBytes), limit(quota.registryBytes, humanBinary)],
          ],
        ),
      );
    });
}
