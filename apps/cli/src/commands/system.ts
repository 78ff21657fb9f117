import { Command } from 'commander';
import type { Io } from '../commands';
import { CliError } from '../errors';
import { humanSize, table } from '../format';
import { collect, parseMemory } from '../parse';
import { apiClient, formatOption, parseDuration, printJson } from './common';
import { confirm } from './containers';

type HostReport = { hostId: string; removedImages: number; freedBytes: number } | { hostId: string; skipped: string };

/** `muelle system prune` (stopped containers, images no container uses on every host, the registry's garbage collection; admin), `system df` and `image prune`. */
export function registerSystemCommands(program: Command, io: Io): void {
  const system = program.command('system').description('Disk usage (df) and platform maintenance (prune: admin)');
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
  system
    .command('df')
    .description('Space your images take, how many are in use, and your containers (as docker system df)')
    .addOption(formatOption())
    .action(async (o: { format: string }) => {
      const usage = await apiClient().request('GET', '/v1/system/df');
      if (o.format === 'json') return printJson(io, usage);
      const images = usage.images as Array<{ sizeBytes: number; containers: number }>;
      const containers = usage.containers as Array<{ state: string; sizeBytes: number | null }>;
      const volumes = usage.volumes as Array<{ sizeBytes: number | null; containers: number }>;
      const buildCache = usage.buildCache as Array<{ sizeBytes: number; inUse: boolean }>;
      io.out.write(
        table(
          ['TYPE', 'TOTAL', 'ACTIVE', 'SIZE', 'RECLAIMABLE'],
          [
            dfRow('Images', images.map((i) => ({ bytes: i.sizeBytes, active: i.containers > 0 }))),
            // A stopped container's writable layer is what removing it reclaims, as docker counts it.
            dfRow('Containers', containers.map((c) => ({ bytes: c.sizeBytes, active: c.state === 'running' }))),
            dfRow('Local Volumes', volumes.map((v) => ({ bytes: v.sizeBytes, active: v.containers > 0 }))),
            dfRow('Build Cache', buildCache.map((b) => ({ bytes: b.sizeBytes, active: b.inUse }))),
          ],
        ),
      );
    });

  program
    .command('builder')
    .description('Build cache housekeeping')
    .command('prune')
    .description("Remove your team's build cache (admins: all of it); entries a running build uses stay")
    .option('-a, --all', 'remove all build cache (Muelle keeps no shared entries, so the same as without)')
    .option('-f, --force', 'do not ask for confirmation')
    .option('--keep-storage <bytes>', 'keep this many bytes of cache, least recently used goes first', (v) => parseMemory(v))
    .option('--filter <until=duration>', 'only entries unused for this long (until=24h)', collect, [])
    .action(async (o: { all?: boolean; force?: boolean; keepStorage?: number; filter: string[] }) => {
      const until = o.filter.map((f) => {
        const [key, ...rest] = f.split('=');
        if (key !== 'until' || !rest.length) throw new CliError(`invalid filter "${f}": only until=<duration> is supported`);
        return rest.join('=');
      });
      if (until.length > 1) throw new CliError('--filter until= may be given once');
      if (!o.force) await confirm(io, 'WARNING! This will remove all dangling build cache. Are you sure you want to continue? [y/N] ');
      const body = { all: !!o.all, keepStorage: o.keepStorage ?? 0, ...(until.length && { until: until[0] }) };
      const { deleted, spaceReclaimed } = await apiClient().request('POST', '/v1/builds/cache/prune', { body });
      if (deleted.length) io.out.write(`Deleted build cache objects:\n${(deleted as string[]).join('\n')}\n\n`);
      io.out.write(`Total reclaimed space: ${humanSize(spaceReclaimed)}\n`);
    });

  const image = program.command('image').description('Image housekeeping');
  image
    .command('prune')
    .description("Remove your images no container uses: unnamed (dangling) ones, or with -a every unused one (your team's; admins: all)")
    .option('-a, --all', 'every unused image, not only dangling ones')
    .option('-f, --force', 'do not ask for confirmation')
    .option('--filter <label=key[=value]>', 'only images with this label', collect, [])
    .action(async (o: { all?: boolean; force?: boolean; filter: string[] }) => {
      const label = o.filter.map((f) => {
        const [key, ...rest] = f.split('=');
        if (key !== 'label' || !rest.length) throw new CliError(`invalid filter "${f}": only label=key[=value] is supported`);
        return rest.join('=');
      });
      if (!o.force) await confirm(io, `WARNING! This will remove all ${o.all ? 'images without at least one container associated to them' : 'dangling images'}.\nAre you sure you want to continue? [y/N] `);
      const { deleted, spaceReclaimed } = await apiClient().request('POST', '/v1/images/prune', { body: { all: !!o.all, label } });
      if (deleted.length) io.out.write(`Deleted Images:\n${deleted.map((d: { Untagged?: string; Deleted?: string }) => (d.Untagged ? `untagged: ${d.Untagged}\n` : `deleted: ${d.Deleted}\n`)).join('')}\n`);
      io.out.write(`Total reclaimed space: ${humanSize(spaceReclaimed)}\n`);
    });
}

/**
 * One line of `system df`: how many, how many in use, their bytes and what the unused ones take
 * (with its share, as docker prints it). A size a host did not report (null) counts as unknown:
 * the sums then read `-` rather than a number that leaves it out.
 */
export function dfRow(type: string, items: Array<{ bytes: number | null; active: boolean }>): string[] {
  const sum = (list: typeof items) => (list.some((i) => i.bytes === null) ? null : list.reduce((total, i) => total + (i.bytes ?? 0), 0));
  const total = sum(items);
  const reclaimable = sum(items.filter((i) => !i.active));
  const percent = total && reclaimable !== null ? ` (${Math.round((reclaimable / total) * 100)}%)` : '';
  return [type, String(items.length), String(items.filter((i) => i.active).length), total === null ? '-' : humanSize(total), reclaimable === null ? '-' : `${humanSize(reclaimable)}${percent}`];
}
