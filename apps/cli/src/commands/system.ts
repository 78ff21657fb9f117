import { Command } from 'commander';
import type { Io } from '../commands';
import { CliError } from '../errors';
import { humanSize } from '../format';
import { collect } from '../parse';
import { apiClient, formatOption, parseDuration, printJson } from './common';

type HostReport = { hostId: string; removedImages: number; freedBytes: number } | { hostId: string; skipped: string };

/** `muelle system prune`: stopped containers, images no container uses on every host, and the registry's garbage collection (admin). */
export function registerSystemCommands(program: Command, io: Io): void {
  const system = program.command('system').description('Platform maintenance (admin)');
  system
    .command('prune')
    .description('Remove stopped containers, images cached on hosts that no container uses, and registry data no tag or manifest references any more (e.g. after `muelle rmi`); report the space freed')
    .option('--grace <duration>', 'keep registry data referenced or pushed within this time (e.g. 10m; default: collect everything unreferenced now)', parseDuration)
    .option('--filter <label=key[=value]>', 'remove only stopped containers with this label (images and registry data are pruned regardless)', collect, [])
    .addOption(formatOption())
    .action(async (o: { grace?: number; filter: string[]; format: string }) => {
      const label = o.filter.map((f) => {
        const [key, ...rest] = f.split('=');
        if (key !== 'label' || !rest.length) throw new CliError(`invalid filter "${f}": only label=key[=value] is supported`);
        return rest.join('=');
      });
      const report = await apiClient().request('POST', '/v1/system/prune', { body: { graceSeconds: o.grace ?? 0, label } });
      if (o.format === 'json') return printJson(io, report);
      const removed = report.containers.removed as string[];
      io.out.write(`Deleted containers: ${removed.length}\n`);
      for (const host of report.hosts as HostReport[]) {
        if ('skipped' in host) io.out.write(`Host ${host.hostId}: skipped (${host.skipped})\n`);
        else io.out.write(`Host ${host.hostId}: deleted images: ${host.removedImages}, reclaimed space: ${humanSize(host.freedBytes)}\n`);
      }
      const r = report.registry;
      io.out.write(`Registry: deleted manifests: ${r.deletedManifests}, deleted blobs: ${r.deletedBlobs}, purged uploads: ${r.purgedUploads}, reclaimed space: ${humanSize(r.freedBytes)}\n`);
    });
}
