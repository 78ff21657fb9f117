import { z } from 'zod';
import { defineRequest } from '../contract';
import { IsoDate, pageOf } from '../common';
import { BuildId, BuildRecord } from './builds.contracts';

/**
 * Build records in metadata: the builder saves one when a build starts and again when it ends,
 * so they outlive the builder's memory and restarts; the api lists and reads them (`/v1/builds`).
 */

/** The builder instance that ran a build (kept in its data folder, so it survives restarts). */
export const BuilderId = z.string().regex(/^[a-f0-9]{16,64}$/, 'not a builder id');

/** Inserts or replaces the record (the builder is its only writer). */
export const saveBuildRecord = defineRequest('muelle.metadata.builds.save.v1', BuildRecord.extend({ builderId: BuilderId }), z.object({ id: BuildId }));

/** `teamId`: undefined lists every team's builds (admins); otherwise that team's only. Newest first. */
export const listBuildRecords = defineRequest(
  'muelle.metadata.builds.list.v1',
  z.object({
    limit: z.number().int().min(1).max(1000).default(100),
    cursor: z.string().max(200).optional(),
    teamId: z.string().uuid().optional(),
  }),
  pageOf(BuildRecord),
);

/** NOT_FOUND for an unknown id, or one of another team than `teamId` (when given). */
export const getBuildRecord = defineRequest('muelle.metadata.builds.get.v1', z.object({ id: BuildId, teamId: z.string().uuid().optional() }), BuildRecord);

/**
 * The api lost the builder running build `id` (its stream fell silent: the builder died or its
 * host was cut off): the record, if still running, becomes failed with `message`, so `/v1/builds`
 * stops showing it running before the builder comes back (its `failInterruptedBuilds` would too).
 * `failed`: false when the record was already finished (the builder's own outcome stands).
 */
export const failLostBuild = defineRequest(
  'muelle.metadata.builds.fail-lost.v1',
  z.object({ id: BuildId, message: z.string().min(1).max(1024) }),
  z.object({ failed: z.boolean() }),
);

/**
 * A builder that starts again marks the builds it was running before (`startedBefore`, its start)
 * as failed: they died with the previous process.
 */
export const failInterruptedBuilds = defineRequest(
  'muelle.metadata.builds.fail-interrupted.v1',
  z.object({ builderId: BuilderId, startedBefore: IsoDate }),
  z.object({ failed: z.array(BuildId) }),
);
