import type { ContainerSpec, ContainerState, ResolvedPort } from '@muelle/contracts';
import type { ResolvedHealthcheck } from './health/healthcheck-config';

/** What the agent persists per container (`containers/<id>/state.json`); enough to re-adopt it. */
export interface ContainerRecordOnDisk {
  id: string;
  name: string;
  /** The owning team (null: none). Records written before teams reached the agent have none. */
  teamId?: string | null;
  spec: ContainerSpec;
  image: string;
  imageDigest: string;
  layers: string[];
  args: string[];
  env: string[];
  workingDir: string;
  user: { uid: number; gid: number; additionalGids: number[] };
  hostname: string;
  state: ContainerState;
  /** The helper (monitor) and the container init, with their /proc start times against pid reuse. */
  helperPid: number | null;
  helperStartTime: string | null;
  initPid: number | null;
  exitCode: number | null;
  oomKilled: boolean;
  error: string;
  restartCount: number;
  /** The image's HEALTHCHECK merged with the spec's, resolved at create; null or absent: none. */
  healthcheck?: ResolvedHealthcheck | null;
  stoppedByUser: boolean;
  ipAddress: string | null;
  gateway: string | null;
  macAddress: string | null;
  ports: ResolvedPort[];
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}
