import { Command } from 'commander';
import type { Io } from '../commands';
import { ago, table } from '../format';
import { collect, parsePairs } from '../parse';
import { CliError } from '../errors';
import { apiClient, formatOption, printJson } from './common';

const path = (name: string) => `/v1/volumes/${encodeURIComponent(name)}`;

/** `muelle volume create|ls|inspect|rm|prune`: the team's named volumes, each on one host. */
export function registerVolumeCommands(program: Command, io: Io): Command {
  const volume = program.command('volume').description("Your team's named volumes: a directory on one host; containers using one run there");

  volume
    .command('create')
    .argument('[name]', 'volume name (default: a random one)')
    .option('-d, --driver <driver>', 'volume driver (only local)', 'local')
    .option('-l, --label <key=value>', 'label', collect, [])
    .action(async (name: string | undefined, o) => {
      const body = { ...(name && { name }), driver: o.driver, labels: parsePairs(o.label, 'label') };
      const created = await apiClient().request('POST', '/v1/volumes', { body });
      io.out.write(`${created.name}\n`);
    });

  volume
    .command('ls')
    .alias('list')
    .addOption(formatOption())
    .option('-q, --quiet', 'names only')
    .action(async (o) => {
      const { items } = await apiClient().request('GET', '/v1/volumes');
      if (o.format === 'json') return printJson(io, items);
      if (o.quiet) io.out.write(items.map((v: any) => `${v.name}\n`).join(''));
      else io.out.write(table(['DRIVER', 'VOLUME NAME', 'HOST', 'USED BY', 'CREATED'], items.map((v: any) => [v.driver, v.name, v.hostId, v.usedBy.join(',') || '-', `${ago(v.createdAt)} ago`])));
    });

  volume
    .command('inspect')
    .argument('<volume...>')
    .action(async (names: string[]) => {
      const api = apiClient();
      const found = [];
      for (const name of names) found.push(await api.request('GET', path(name)));
      printJson(io, found);
    });

  volume
    .command('rm')
    .alias('remove')
    .argument('<volume...>')
    .action(async (names: string[]) => {
      const api = apiClient();
      for (const name of names) {
        await api.request('DELETE', path(name));
        io.out.write(`${name}\n`);
      }
    });

  volume
    .command('prune')
    .description("Remove your team's volumes no container mounts")
    .option('--filter <label=key[=value]>', 'only volumes with this label', collect, [])
    .action(async (o) => {
      const labels = (o.filter as string[]).map((f) => {
        if (!f.startsWith('label=')) throw new CliError(`unsupported filter ${f}: only label=…`);
        return f.slice('label='.length);
      });
      const { removed } = await apiClient().request('POST', '/v1/volumes/prune', { body: { labels } });
      io.out.write(removed.length ? `Deleted Volumes:\n${removed.map((n: string) => `${n}\n`).join('')}` : 'No volumes removed\n');
    });

  return volume;
}
