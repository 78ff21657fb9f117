import { VolumeRecord } from '@muelle/contracts';
import { z } from 'zod';
import { parseRequest } from '../http/validation';
import { CreateVolumeBody } from '../volumes/volumes.schemas';
import { hasLabels } from '../volumes/volumes.service';
import { NotSupportedByMuelleError } from './errors';

/** The create body the docker CLI, docker-py and compose send; anything else is refused by name. */
export const DockerVolumeCreateBody = z
  .object({
    Name: z.string().nullish(),
    Driver: z.string().nullish(),
    DriverOpts: z.record(z.string(), z.string()).nullish(),
    Labels: z.record(z.string(), z.string()).nullish(),
  })
  .passthrough();

const KNOWN = new Set(['Name', 'Driver', 'DriverOpts', 'Labels']);

/** Docker's `POST /volumes/create` → Muelle's create body: driver `local` only, no driver options, no cluster volumes. */
export function toMuelleVolume(raw: unknown): CreateVolumeBody {
  const body = parseRequest(DockerVolumeCreateBody, raw);
  for (const key of Object.keys(body)) if (!KNOWN.has(key)) throw new NotSupportedByMuelleError(`the volume option ${key}`, 400);
  if (body.Driver && body.Driver !== 'local') throw new NotSupportedByMuelleError(`the volume driver ${body.Driver} (only local)`, 400);
  const opts = Object.keys(body.DriverOpts ?? {});
  if (opts.length) throw new NotSupportedByMuelleError(`the volume driver option ${opts[0]} (--opt)`, 400);
  return parseRequest(CreateVolumeBody, { name: body.Name || undefined, driver: 'local', labels: body.Labels ?? {} });
}

/**
 * A volume as dockerd 20.10 shows it (fixtures/engine/volume-inspect.json). The directory is on the
 * volume's host, which the client cannot reach: Mountpoint is left empty rather than showing a
 * path of another machine as if it were the client's.
 */
export function toDockerVolume(volume: VolumeRecord) {
  return {
    CreatedAt: volume.createdAt.replace(/\.\d+Z$/, 'Z'),
    Driver: volume.driver,
    Labels: volume.labels,
    Mountpoint: '',
    Name: volume.name,
    Options: null,
    Scope: 'local',
  };
}

/** Docker's volume list filters: `name` (substring), `label`, `driver`, `dangling`; others are refused by name. */
export function volumeFilter(filters: Record<string, string[]>): (volume: VolumeRecord & { usedBy: string[] }) => boolean {
  for (const key of Object.keys(filters)) if (!['name', 'label', 'driver', 'dangling'].includes(key)) throw new NotSupportedByMuelleError(`the volume filter ${key}`, 400);
  const dangling = filters.dangling?.map((v) => v === 'true' || v === '1');
  return (v) =>
    (!filters.name?.length || filters.name.some((n) => v.name.includes(n))) &&
    hasLabels(v.labels, filters.label ?? []) &&
    (!filters.driver?.length || filters.driver.includes(v.driver)) &&
    (!dangling?.length || dangling.some((d) => d === (v.usedBy.length === 0)));
}
