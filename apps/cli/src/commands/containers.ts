import { Command } from 'commander';
import type { ApiClient } from '../client';
import type { Io } from '../commands';
import { CliError } from '../errors';
import { humanBinary, shortId, table } from '../format';
import { collect } from '../parse';
import { apiClient, formatOption, printJson } from './common';

const containerPath = (ref: string) => `/v1/containers/${encodeURIComponent(ref)}`;

/** `muelle stats`, `wait`, `port`, `top`, `rename` and `container prune`: container commands beyond the seed's. */
export function registerContainerCommands(program: Command, io: Io): void {
  program
    .command('stats')
    .description('Live resource usage of containers (all running ones by default), refreshed every second until Ctrl-C')
    .argument('[containers...]')
    .option('--no-stream', 'print one sample and exit')
    .addOption(formatOption())
    .action(async (names: string[], o) => {
      const api = apiClient();
      const targets: string[] = names.length ? names : (await api.request('GET', '/v1/containers', { query: { limit: 1000 } })).items.map((c: any) => c.name);
      if (!o.stream) {
        const rows = await Promise.all(targets.map(async (name) => ({ name, stats: await api.request('GET', `${containerPath(name)}/stats`) })));
        if (o.format === 'json') return printJson(io, rows);
        return void io.out.write(statsTable(rows));
      }
      await streamStats(api, io, targets, o.format === 'json');
    });

  program
    .command('wait')
    .description('Block until containers stop, then print their exit codes')
    .argument('<containers...>')
    .action(async (names: string[]) => {
      const api = apiClient();
      for (const name of names) {
        try {
          io.out.write(`${(await api.request('POST', `${containerPath(name)}/wait`)).exitCode}\n`);
        } catch (error) {
          io.exitCode = 1;
          io.err.write(`Error response from daemon: ${(error as Error).message}\n`);
        }
      }
    });

  program
    .command('port')
    .description("A container's published ports: all, or where one private port is published")
    .argument('<container>')
    .argument('[private-port]', 'PORT[/tcp|udp]')
    .action(async (name: string, wanted: string | undefined) => {
      const view = await apiClient().request('GET', containerPath(name));
      const match = wanted === undefined ? null : /^(\d{1,5})(?:\/(tcp|udp))?$/.exec(wanted);
      if (wanted !== undefined && !match) throw new CliError(`invalid port "${wanted}": PORT[/tcp|udp]`);
      // The agent's view has the host ports it actually bound (also the random ones of -p 80).
      const bound: Array<{ hostIp: string; hostPort: number; containerPort: number; protocol: string }> = (view.runtime?.ports ?? view.spec.ports).filter((p: any) => p.hostPort);
      const shown = bound.filter((p) => !match || (p.containerPort === Number(match[1]) && p.protocol === (match[2] ?? 'tcp')));
      if (match && !shown.length) throw new CliError(`no public port '${wanted}' published for ${name}`, 1);
      for (const p of shown) {
        const where = `${p.hostIp === '0.0.0.0' && view.hostAddress ? view.hostAddress : p.hostIp}:${p.hostPort}`;
        io.out.write(match ? `${where}\n` : `${p.containerPort}/${p.protocol} -> ${where}\n`);
      }
    });

  program
    .command('top')
    .description("A running container's processes")
    .argument('<container>')
    .action(async (ref: string) => {
      const { titles, processes } = await apiClient().request('GET', `${containerPath(ref)}/top`);
      io.out.write(table(titles, processes));
    });

  program
    .command('rename')
    .description('Give a container another name')
    .argument('<container>')
    .argument('<new-name>')
    .action(async (ref: string, name: string) => {
      await apiClient().request('POST', `${containerPath(ref)}/rename`, { query: { name } });
    });

  const container = program.command('container').description('Container housekeeping');
  container
    .command('prune')
    .description('Remove every stopped container you may remove (your team\'s; admins: all)')
    .option('-f, --force', 'do not ask for confirmation')
    .option('--filter <label=key[=value]>', 'only containers with this label', collect, [])
    .action(async (o) => {
      const label = (o.filter as string[]).map((f) => {
        const [key, ...rest] = f.split('=');
        if (key !== 'label' || !rest.length) throw new CliError(`invalid filter "${f}": only label=key[=value] is supported`);
        return rest.join('=');
      });
      if (!o.force) await confirm(io, 'WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ');
      const { removed } = await apiClient().request('POST', '/v1/containers/prune', { query: { label } });
      if (removed.length) io.out.write(`Deleted Containers:\n${removed.map((id: string) => `${id}\n`).join('')}\n`);
      io.out.write(`Total containers removed: ${removed.length}\n`);
    });
}

type Sample = { id: string; cpuPercent: number; memoryUsageBytes: number; memoryInactiveFileBytes: number; memoryLimitBytes: number; pidsCurrent: number };

function statsTable(rows: Array<{ name: string; stats: Sample }>): string {
  return table(
    ['CONTAINER ID', 'NAME', 'CPU %', 'MEM USAGE / LIMIT', 'MEM %', 'PIDS'],
    rows.map(({ name, stats }) => {
      const used = Math.max(0, stats.memoryUsageBytes - stats.memoryInactiveFileBytes);
      return [
        shortId(stats.id),
        name,
        `${stats.cpuPercent.toFixed(2)}%`,
        `${humanBinary(used)} / ${humanBinary(stats.memoryLimitBytes)}`,
        `${((used / stats.memoryLimitBytes) * 100).toFixed(2)}%`,
        String(stats.pidsCurrent),
      ];
    }),
  );
}

/**
 * One NDJSON stream per container (a sample a second each); the table is redrawn whenever a round
 * of samples arrived: on a terminal in place, like docker stats, else appended. Returns when every
 * stream ended (the containers stopped); Ctrl-C ends it before.
 */
async function streamStats(api: ApiClient, io: Io, targets: string[], asJson: boolean): Promise<void> {
  const latest = new Map<string, Sample>();
  const redraw = () => {
    const rows = targets.filter((name) => latest.has(name)).map((name) => ({ name, stats: latest.get(name) as Sample }));
    if (asJson) return void io.out.write(JSON.stringify(rows) + '\n');
    io.out.write(`${io.out.isTTY ? '\x1b[2J\x1b[H' : ''}${statsTable(rows)}`);
  };
  let pending = 0;
  await Promise.all(
    targets.map(async (name) => {
      const response = await api.send('GET', `${containerPath(name)}/stats`, { query: { stream: true }, accept: 'application/x-ndjson' });
      for await (const line of api.lines(response)) {
        if (line.error) throw new CliError(`${name}: ${line.error.message}`, 125, line.error.code);
        const first = !latest.has(name);
        latest.set(name, line);
        // Redraw once every container reported (the first round), then on each further sample of the first one.
        if (first && ++pending < targets.length) continue;
        if (first || name === targets.find((t) => latest.has(t))) redraw();
      }
    }),
  );
}

export async function confirm(io: Io, question: string): Promise<void> {
  if (!process.stdin.isTTY) throw new CliError('no terminal to confirm on: add --force');
  io.err.write(question);
  const answer = await new Promise<string>((resolve) => process.stdin.once('data', (chunk) => resolve(String(chunk))));
  process.stdin.pause();
  if (!/^y(es)?$/i.test(answer.trim())) throw new CliError('cancelled', 1);
}
