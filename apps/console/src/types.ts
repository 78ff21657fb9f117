// The /v1 shapes the console reads (see the api's OpenAPI document at /openapi.json).

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface Host {
  id: string;
  address: string;
  capacity: { cpus: number; memoryBytes: number; diskBytes: number };
  labels: Record<string, string>;
  state: 'ready' | 'down';
  cordoned: boolean;
  agentVersion: string;
  lastHeartbeatAt: string;
  usage: { containers: number; reservedMemoryBytes: number; reservedCpus: number };
}

export interface Container {
  id: string;
  name: string;
  hostId: string | null;
  teamId: string | null;
  image: string;
  imageDigest: string | null;
  labels: Record<string, string>;
  state: string;
  exitCode: number | null;
  restartCount: number;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  spec: Record<string, unknown>;
}

export interface Image {
  reference: string;
  repository: string;
  tag: string;
  digest: string;
  sizeBytes: number;
  created: string | null;
  hosts: string[] | null;
}

export interface Team {
  id: string;
  name: string;
}

export interface UserSummary {
  id: string;
  username: string;
  role: string;
  teamId: string | null;
  teamName?: string | null;
  disabled?: boolean;
}

export interface AuditEntry {
  id?: string;
  at: string;
  actor: string;
  action: string;
  target: string;
  teamId?: string | null;
  details?: Record<string, unknown>;
}

export interface TokenRecord {
  id: string;
  name: string;
  kind: 'user' | 'robot';
  loginName: string;
  teamName: string | null;
  scopes: string[] | null;
  createdAt: string;
  expiresAt: string | null;
}

/** `GET /v1/builds`: one build as metadata keeps it (running ones too). */
export interface BuildRecord {
  id: string;
  state: 'running' | 'succeeded' | 'failed' | 'cancelled';
  tags: string[];
  requestedBy: string;
  teamId: string | null;
  startedAt: string;
  finishedAt?: string;
  result?: { digest: string; configDigest: string; pushed: { reference: string; digest: string }[]; steps: number; cachedSteps: number; durationMs: number };
  error?: { code: string; message: string; details?: { kind?: string; line?: number; exitCode?: number; lastOutput?: string[] } };
}

export type UpdateState = 'completed' | 'updating' | 'paused' | 'rollback_started' | 'rollback_completed';

/** `GET /v1/services`: the desired state and where its latest change stands. */
export interface Service {
  id: string;
  name: string;
  teamId: string | null;
  ownerId: string;
  spec: {
    image: string;
    replicas: number;
    command?: string[];
    labels?: Record<string, string>;
    constraints?: Record<string, string>;
    healthcheck?: unknown;
    updateConfig: { parallelism: number; order: string; failureAction: string };
    restartPolicy: { condition: string; delayMs: number; maxAttempts: number; windowMs: number };
  };
  previousSpec: { image: string; replicas: number } | null;
  version: number;
  updateState: UpdateState;
  updateMessage: string;
  /** Failed tasks the restart policy replaced or left (`restarted: false`, with why). */
  restartHistory: Array<{ task: string; at: string; restarted: boolean; reason: string }>;
  createdAt: string;
  updatedAt: string;
}

/** A service's task: a container labelled with its service and spec version. */
export interface Task extends Container {
  health?: 'starting' | 'healthy' | 'unhealthy' | null;
}
