import { z } from 'zod';
import { parseRequest } from '../http/validation';
import type { DockerCreateBody } from './containers.mapping';

const str = z.string();
const strings = z.array(z.string());
const stringOrStrings = z.union([z.string(), z.array(z.string())]);
const int = z.number().int();
const stringMap = z.record(z.string(), z.string());
const objectMap = z.record(z.string(), z.object({}).passthrough());

/**
 * JSON types of every field of Docker's create body that Muelle reads (DockerCreateBody), so a
 * wrong type is a 400 naming the field (`body.HostConfig.Memory`) instead of a TypeError deeper in.
 * Fields Muelle does not read pass through to the mapping, which refuses the ones it cannot honour.
 */
const hostConfig = z
  .object({
    Binds: strings.nullish(),
    NetworkMode: str.optional(),
    PortBindings: z.record(z.string(), z.array(z.object({ HostIp: str.optional(), HostPort: str.optional() }).passthrough()).nullable()).nullish(),
    PublishAllPorts: z.boolean().optional(),
    RestartPolicy: z.object({ Name: str.optional(), MaximumRetryCount: int.optional() }).passthrough().optional(),
    AutoRemove: z.boolean().optional(),
    Mounts: z.array(z.object({ Type: str.optional(), Source: str.optional(), Target: str.optional(), ReadOnly: z.boolean().optional() }).passthrough()).nullish(),
    Memory: int.nonnegative().optional(),
    NanoCpus: int.nonnegative().optional(),
    CpuShares: int.nonnegative().optional(),
    PidsLimit: int.nullish(),
    Privileged: z.boolean().optional(),
    CapAdd: strings.nullish(),
    Devices: z.array(z.unknown()).nullish(),
    Tmpfs: stringMap.nullish(),
    VolumesFrom: strings.nullish(),
    Links: strings.nullish(),
    PidMode: str.optional(),
    IpcMode: str.optional(),
    UTSMode: str.optional(),
    UsernsMode: str.optional(),
    Runtime: str.optional(),
    Init: z.boolean().nullish(),
  })
  .passthrough();

export const dockerCreateBodySchema = z
  .object({
    Hostname: str.optional(),
    User: str.optional(),
    Tty: z.boolean().optional(),
    OpenStdin: z.boolean().optional(),
    StdinOnce: z.boolean().optional(),
    Env: strings.nullish(),
    Cmd: stringOrStrings.nullish(),
    Entrypoint: stringOrStrings.nullish(),
    Image: str.optional(),
    WorkingDir: str.optional(),
    Labels: stringMap.nullish(),
    StopSignal: str.optional(),
    StopTimeout: int.nullish(),
    ExposedPorts: objectMap.nullish(),
    Volumes: objectMap.nullish(),
    Healthcheck: z.object({ Test: strings.nullish(), Interval: int.nullish(), Timeout: int.nullish(), StartPeriod: int.nullish(), Retries: int.nullish() }).passthrough().nullish(),
    HostConfig: hostConfig.nullish(),
  })
  .passthrough();

export function parseDockerCreateBody(body: unknown): DockerCreateBody {
  const parsed = parseRequest(dockerCreateBodySchema, body);
  return { ...parsed, HostConfig: parsed.HostConfig ?? undefined } as DockerCreateBody;
}
