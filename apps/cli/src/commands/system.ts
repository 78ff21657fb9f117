import { Command } from 'commander';
import type { Io } from '../commands';
import { humanSize } from '../format';
import { apiClient, formatOption, parseDuration, printJson } from './common';

/** `muelle system prune`: the registry's garbage collection on demand (admin). */
export function registerSystemCommands(program: Command, io: Io): void {
  const system = program.command('system').description('Platform maintenance (admin)');
  system
    .command('prune')
    .description('Delete registry data no tag or manifest references any more (e.g. after `muelle rmi`) and report the space freed')
    .option('--grace <duration>', 'keep what was referenced or pushed within this time (e.g. 10m; default: collect everything unreferenced now)', parseDuration)
    .addOption(formatOption())
    .action(async (o: { grace?: number; format: string }) => {
      const report = await apiClient().request('POST', '/v1/system/prune', { body: { graceSeconds: o.grace ?? 0 } });
      if (o.format === 'json') return printJson(io, report);
      const r = report.registry;
      io.out.write(`Deleted manifests: ${r.deletedManifests}\nDeleted blobs: ${r.deletedBlobs}\nPurged uploads: ${r.purgedUploads}\nTotal reclaimed space: ${humanSize(r.freedBytes)}\n`);
    });
}
