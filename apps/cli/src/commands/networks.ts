import { Command } from 'commander';
import type { Io } from '../commands';
import { ago, shortId, table } from '../format';
import { collect, parsePairs } from '../parse';
import { apiClient, formatOption, printJson } from './common';

const path = (ref: string) => `/v1/networks/${encodeURIComponent(ref)}`;

/** `muelle network create|ls|inspect|rm|connect|disconnect`: the team's networks. */
export function registerNetworkCommands(program: Command, io: Io): Command {
  const network = program.command('network').description("Your team's networks: a subnet each, no overlap with any host or network");

  network
    .command('create')
    .argument('<name>')
    .option('-d, --driver <driver>', 'overlay (spans hosts) or bridge (one host)', 'overlay')
    .option('--subnet <cidr>', 'IPv4 subnet, e.g. 10.20.0.0/24 (default: the next free /24 of the pool)')
    .option('--gateway <ip>', 'gateway address inside --subnet (default: its first address)')
    .option('--internal', 'no route out of the network')
    .option('-l, --label <key=value>', 'label', collect, [])
    .action(async (name: string, o) => {
      const body = {
        name,
        driver: o.driver,
        ...(o.subnet && { subnet: o.subnet }),
        ...(o.gateway && { gateway: o.gateway }),
        internal: !!o.internal,
        labels: parsePairs(o.label, 'label'),
      };
      const created = await apiClient().request('POST', '/v1/networks', { body });
      io.out.write(`${created.id}\n`);
    });

  network
    .command('ls')
    .addOption(formatOption())
    .action(async (o) => {
      const { items } = await apiClient().request('GET', '/v1/networks');
      if (o.format === 'json') return printJson(io, items);
      io.out.write(table(['NETWORK ID', 'NAME', 'DRIVER', 'SUBNET', 'INTERNAL', 'CREATED'], items.map((n: any) => [shortId(n.id), n.name, n.driver, n.subnet, n.internal ? 'yes' : '', `${ago(n.createdAt)} ago`])));
    });

  network
    .command('inspect')
    .argument('<network...>')
    .action(async (refs: string[]) => {
      const api = apiClient();
      const found = [];
      for (const ref of refs) found.push(await api.request('GET', path(ref)));
      printJson(io, found);
    });

  network
    .command('rm')
    .alias('remove')
    .argument('<network...>')
    .action(async (refs: string[]) => {
      const api = apiClient();
      for (const ref of refs) {
        await api.request('DELETE', path(ref));
        io.out.write(`${ref}\n`);
      }
    });

  // As docker's: nothing printed on success, the error otherwise.
  network
    .command('connect')
    .description('Connect a container to a network: a running one gets the interface now, a stopped one at its next start')
    .argument('<network>')
    .argument('<container>')
    .option('--alias <name>', 'another name for the container on this network', collect, [])
    .action(async (ref: string, container: string, o) => {
      await apiClient().request('POST', `${path(ref)}/connect`, { body: { container, aliases: o.alias } });
    });

  network
    .command('disconnect')
    .description("Disconnect a container from a network (not its first one, which carries its default route)")
    .argument('<network>')
    .argument('<container>')
    .option('-f, --force', "no error when the record no longer has it; the container's host still drops it")
    .action(async (ref: string, container: string, o) => {
      await apiClient().request('POST', `${path(ref)}/disconnect`, { body: { container, force: !!o.force } });
    });

  return network;
}
