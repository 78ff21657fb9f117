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
