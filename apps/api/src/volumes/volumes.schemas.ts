import { Labels, TeamVolumeName, VolumeDriver } from '@muelle/contracts';
import { z } from 'zod';

/**
 * `POST /v1/volumes`. Strict: driver options, other drivers and anything else Muelle does not
 * implement are a 400 naming them, never ignored. Without a name the volume gets a random one
 * (64 hex digits, as Docker's anonymous volumes).
 */
export const CreateVolumeBody = z
  .object({
    name: TeamVolumeName.optional(),
    driver: VolumeDriver.default('local'),
    labels: Labels.default({}),
  })
  .strict();
export type CreateVolumeBody = z.output<typeof CreateVolumeBody>;

/** `POST /v1/volumes/prune`: only volumes with every one of these labels (`key` or `key=value`). */
export const PruneVolumesBody = z.object({ labels: z.array(z.string().min(1).max(1280)).max(32).default([]) }).strict();
export type PruneVolumesBody = z.output<typeof PruneVolumesBody>;
