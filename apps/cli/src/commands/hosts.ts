import { Command } from 'commander';
import { humanBinary, table } from '../format';
import { apiClient, formatOption, printJson } from './common';
import type { Io } from '../commands';

/** `muelle hosts`: the platform's hosts, and cordon, uncordon or drain one. */
export function registerHostCommands(program: Command, io: Io): void {
  const hosts = program.command('hosts').description('Hosts of the platform');
  hosts
    .command('ls', { isDefault: true })
    .addOption(formatOption())
    .action(async (o) => {
      const reply = await apiClient().request('GET', '/v1/hosts', {
        query: { limit: 1000 },
      });
      if (o.format === 'json') return printJson(io, reply.items);
      io.out.write(
        table(
          ['ID', 'ADDRESS', 'STATE', 'CORDONED', 'CPUS', 'MEMORY', 'CONTAINERS', 'LABELS'],
          reply.items.map((h: any) => [
            h.id,
            h.address,
            h.state,
            h.cordoned ? 'yes' : 'no',
            `${h.usage.reservedCpus}/${h.capacity.cpus}`,
            `${humanBinary(h.usage.reservedMemoryBytes)}/${humanBinary(h.capacity.memoryBytes)}`,
            String(h.usage.containers),
            Object.entries(h.labels)
              .map(([k, v]) => `${k}=${v}`)
              .join(','),
          ]),
        ),
      );
    });
  hosts
    .command('inspect')
    .argument('<id>')
    .action(async (id: string) => printJson(io, await apiClient().request('GET', `/v1/hosts/${encodeURIComponent(id)}`)));
  for (const verb of ['cordon', 'uncordon', 'drain'] as const) {
    hosts
      .command(verb)
      .argument('<id>')
      .action(async (id: string) => {
        const reply = await apiClient().request('POST', `/v1/hosts/${encodeURIComponent(id)}/${verb}`);
        if (verb === 'drain') {
          for (const m of reply.moved) io.out.write(`moved ${m.name} -> ${m.to}\n`);
          for (const s of reply.stayed) io.out.write(`kept ${s.name}: ${s.reason}\n`);
        } else io.out.write(`${id}\n`);
      });
  }
}
