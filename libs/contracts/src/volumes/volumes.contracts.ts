import { z } from 'zod';
import { defineRequest } from '../contract';
import { IsoDate, Labels } from '../common';
import { HostId } from '../containers/container.schemas';

/**
 * Docker's rule for volume names, shortened so that a team's stored name on the host
 * (`t<16 hex>.<name>`, the agent's VolumeName of at most 128) still fits.
 */
export const TeamVolumeName = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,109}$/, 'letters, digits, _ . and -, starting with a letter or digit, at most 110');

/** Only Docker's `local` driver: a directory on the host the volume lives on. */
export const VolumeDriver = z.literal('local');

export const VolumeRecord = z.object({
  name: TeamVolumeName,
  teamId: z.string().uuid().nullable(),
  driver: VolumeDriver,
  labels: Labels,
  /** A volume is local to one host: every container using it is placed there. */
  hostId: HostId,
  createdAt: IsoDate,
});
export type VolumeRecord = z.infer<typeof VolumeRecord>;

const team = { teamId: z.string().uuid().nullable() };

/**
 * Records a team's volume on a host. An existing volume of that name in the team is returned as it
 * is (`created: false`), as Docker's `volume create` and `run -v name:` do; with `requireHost`, an
 * existing volume on another host is a CONFLICT (a container placed on one host cannot use it).
 */
export const createVolume = defineRequest(
  'muelle.metadata.volumes.create.v1',
  z.object({ ...team, name: TeamVolumeName, driver: VolumeDriver.default('local'), labels: Labels.default({}), hostId: HostId, requireHost: z.boolean().default(false) }),
  z.object({ volume: VolumeRecord, created: z.boolean() }),
);

/** NOT_FOUND unless the team (null: no team) has a volume of that name. */
export const getVolume = defineRequest('muelle.metadata.volumes.get.v1', z.object({ ...team, name: z.string().min(1).max(256) }), VolumeRecord);

/** `teamId` omitted: every team's (admins' view). `usedBy`: names of the containers whose spec mounts it. */
export const listVolumes = defineRequest(
  'muelle.metadata.volumes.list.v1',
  z.object({ teamId: z.string().uuid().nullable().optional() }),
  z.object({ items: z.array(VolumeRecord.extend({ usedBy: z.array(z.string()) })) }),
);

/**
 * Deletes the record; CONFLICT naming the containers (running or not) whose spec mounts it, since
 * their next start would make it again. The agent of `hostId` removes the directory after.
 */
export const deleteVolume = defineRequest('muelle.metadata.volumes.delete.v1', z.object({ ...team, name: TeamVolumeName }), z.object({ deleted: VolumeRecord.nullable() }));
