import { z } from 'zod';
import { defineRequest } from '../contract';
import { IsoDate } from '../common';

/**
 * Image builds: the api (HTTP `POST /v1/builds`, `muelle build`, `docker build`) asks the builder
 * over the bus to build, and streams the context tar to it. Context and progress share one byte
 * stream (libs/bus `StreamEnd`) whose id the caller chooses and subscribes to BEFORE sending
 * `startBuild`, so no frame is lost:
 *
 * - the builder grants context bytes with `Frame.Credit`; the caller sends them as `Frame.Stdin`
 *   and ends with `Frame.StdinEnd`;
 * - every progress event is one `Frame.Stdout` frame holding one JSON `BuildProgressEvent`
 *   (the builder keeps each event far below the 64 KiB frame chunk, so none is split);
 * - the last frame is `Frame.Exit` with a JSON `BuildResult` (success) or `Frame.Error` with a
 *   JSON `{code, message, details}` (failure; `details` is a `BuildFailureDetails`).
 *
 * `getBuild` answers the same outcome later (the builder remembers recent builds); every build's
 * record is also kept in metadata (build-records.contracts.ts), where `/v1/builds` reads it.
 */

export const BuildId = z.string().regex(/^[a-z0-9]{8,40}$/, 'not a build id');
export const BuildStreamId = z.string().regex(/^[a-f0-9]{16,64}$/, 'not a stream id');
export const BuildDigest = z.string().regex(/^sha256:[a-f0-9]{64}$/, 'not a sha256 digest');

/** Where the context tar comes from (plain or gzip tar; detected from its first bytes). */
export const BuildContextSource = z.discriminatedUnion('kind', [
  /**
   * Streamed by the caller over the build's progress stream (`progressStreamId`), as `Stdin`
   * frames within the credit the builder grants (libs/bus `sendBytes`/`ByteReceiver`), ended by
   * `StdinEnd`. Nothing is shared but the bus: api and builder may run on different machines.
   */
  z.object({ kind: z.literal('stream') }),
  /** A directory on the builder's own filesystem (tests and benchmarks; must be absolute). */
  z.object({ kind: z.literal('directory'), path: z.string().min(1).max(4096).startsWith('/') }),
]);
export type BuildContextSource = z.infer<typeof BuildContextSource>;

export const BuildRegistryCredentials = z.union([
  z.object({ username: z.string().min(1).max(255), password: z.string().max(4096) }),
  z.object({ token: z.string().min(1).max(8192) }),
]);

/**
 * Image reference as the user typed it: `name:tag`, `host:port/name:tag` or without a tag
 * (`latest`). A reference without a registry host goes to the platform registry.
 */
export const BuildImageReference = z.string().min(1).max(512);

/** Who asked for a build: shown in its record, and the team whose members may read it. */
export const BuildRequester = z.object({ username: z.string().min(1).max(128), teamId: z.string().uuid().nullable() });
export type BuildRequester = z.infer<typeof BuildRequester>;

/** Builds nobody asked for through the api (tests, benchmarks) are the platform's own. */
export const SYSTEM_BUILD_REQUESTER: BuildRequester = { username: 'system', teamId: null };

export const StartBuildRequest = z.object({
  context: BuildContextSource,
  requestedBy: BuildRequester.default(SYSTEM_BUILD_REQUESTER),
  /** Path of the Dockerfile inside the context. */
  dockerfile: z.string().min(1).max(1024).default('Dockerfile'),
  /** Push targets; empty → build only (the result digest is still reported). */
  tags: z.array(BuildImageReference).max(32).default([]),
  buildArgs: z.record(z.string().min(1).max(255), z.string().max(65536)).default({}),
  /** Stage to stop at (`--target`); default the last stage. */
  target: z.string().min(1).max(128).optional(),
  /** Ignore the layer cache (results are still stored in it). */
  noCache: z.boolean().default(false),
  /** Unix seconds: config/history `created` and an upper bound for file times in new layers. */
  sourceDateEpoch: z.number().int().nonnegative().optional(),
  /** Network for RUN steps; `none` unless asked. */
  network: z.enum(['none', 'host']).default('none'),
  /** Per registry host (`127.0.0.1:5000`), for pulling bases and pushing results. */
  registryCredentials: z.record(z.string().min(1).max(255), BuildRegistryCredentials).default({}),
  /** Progress stream id (libs/bus `newStreamId()`); omit to poll `getBuild` instead. */
  progressStreamId: BuildStreamId.optional(),
}).refine((request) => request.context.kind !== 'stream' || request.progressStreamId !== undefined, {
  message: 'a streamed context travels on the progress stream: progressStreamId is required',
  path: ['progressStreamId'],
});
export type StartBuildRequest = z.input<typeof StartBuildRequest>;

export const BuildState = z.enum(['running', 'succeeded', 'failed', 'cancelled']);
export type BuildState = z.infer<typeof BuildState>;

/** What went wrong, machine-readable; `kind` names the failure users see most. */
export const BuildFailureDetails = z.object({
  kind: z.enum([
    'dockerfile-syntax',
    'unknown-instruction',
    'unknown-stage',
    'stage-cycle',
    'missing-source',
    /** `ADD <url>` to a loopback, link-local, private or platform address (or a redirect there). */
    'url-refused',
    'context-escape',
    'run-failed',
    'base-image',
    'push',
    'cancelled',
    'internal',
  ]),
  /** 1-based position in the Dockerfile, when the failure belongs to an instruction. */
  line: z.number().int().positive().optional(),
  column: z.number().int().positive().optional(),
  /** `RUN` failures: the command's exit code and its last output lines. */
  exitCode: z.number().int().optional(),
  lastOutput: z.array(z.string()).optional(),
});
export type BuildFailureDetails = z.infer<typeof BuildFailureDetails>;

export const BuildPushedTag = z.object({ reference: z.string(), digest: BuildDigest });

export const BuildResult = z.object({
  buildId: BuildId,
  /** Manifest digest of the built image (also when nothing was pushed). */
  digest: BuildDigest,
  configDigest: BuildDigest,
  pushed: z.array(BuildPushedTag),
  steps: z.number().int().nonnegative(),
  cachedSteps: z.number().int().nonnegative(),
  durationMs: z.number().nonnegative(),
});
export type BuildResult = z.infer<typeof BuildResult>;

export const BuildProgressEvent = z.discriminatedUnion('type', [
  /** A step starts: `index` counts from 1 over the steps of the stages being built. */
  z.object({
    type: z.literal('step'),
    index: z.number().int().positive(),
    total: z.number().int().positive(),
    stage: z.string(),
    instruction: z.string(),
    line: z.number().int().positive(),
  }),
  z.object({ type: z.literal('cache-hit'), index: z.number().int().positive() }),
  /** Output of a RUN step, UTF-8 (invalid sequences replaced), in chunks of at most 16 KiB. */
  z.object({ type: z.literal('output'), index: z.number().int().positive(), stream: z.enum(['stdout', 'stderr']), data: z.string() }),
  z.object({ type: z.literal('step-done'), index: z.number().int().positive(), durationMs: z.number().nonnegative(), layer: BuildDigest.optional() }),
  z.object({ type: z.literal('pulling'), reference: z.string() }),
  z.object({ type: z.literal('pushing'), reference: z.string() }),
  z.object({ type: z.literal('pushed'), reference: z.string(), digest: BuildDigest }),
  z.object({ type: z.literal('message'), text: z.string() }),
]);
export type BuildProgressEvent = z.infer<typeof BuildProgressEvent>;

export const BuildRecord = z.object({
  id: BuildId,
  state: BuildState,
  tags: z.array(z.string()),
  requestedBy: z.string().min(1).max(128),
  teamId: z.string().uuid().nullable(),
  startedAt: IsoDate,
  finishedAt: IsoDate.optional(),
  result: BuildResult.optional(),
  error: z.object({ code: z.string(), message: z.string(), details: BuildFailureDetails.optional() }).optional(),
});
export type BuildRecord = z.infer<typeof BuildRecord>;

/** Accepts the build and replies at once; the work continues in the background. */
export const startBuild = defineRequest(
  'muelle.builder.builds.start.v1',
  StartBuildRequest,
  /** `builderId`: the builder instance running it (build-records.contracts.ts `BuilderId`), when it keeps records. */
  z.object({ buildId: BuildId, startedAt: IsoDate, builderId: z.string().regex(/^[a-f0-9]{16,64}$/, 'not a builder id').optional() }),
);

/** NOT_FOUND when the builder does not know (or no longer remembers) the id. */
export const getBuild = defineRequest('muelle.builder.builds.get.v1', z.object({ buildId: BuildId }), BuildRecord);

/** Stops a running build: the RUN step in progress is killed, nothing is pushed. */
export const cancelBuild = defineRequest('muelle.builder.builds.cancel.v1', z.object({ buildId: BuildId }), BuildRecord);

export { describeBuildProgress } from './progress-text';
