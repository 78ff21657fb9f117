import type { Readable } from 'node:stream';

/** Credentials for one registry: Basic username/password, or a bearer token obtained elsewhere. */
export type RegistryCredentials = { username: string; password: string } | { token: string };

export interface RegistryClientOptions {
  /** `https://registry:5000` — scheme included; see registryEndpoint() for the rule every service uses. */
  baseUrl: string;
  /**
   * With an https baseUrl: when the registry turns out not to speak TLS at all, continue over plain
   * http (Docker's rule for loopback and insecure registries). Certificate errors never fall back.
   */
  plainHttpFallback?: boolean;
  credentials?: RegistryCredentials;
  /** Per-request timeout for metadata calls (blob bodies are streamed without a total timeout). */
  timeoutMs?: number;
  userAgent?: string;
}

export interface FetchedManifest {
  digest: string;
  mediaType: string;
  bytes: Buffer;
}

export interface BlobUploadResult {
  digest: string;
  size: number;
  /** true when the registry already had the blob (HEAD hit or cross-repository mount). */
  existed: boolean;
}

/**
 * An OCI Distribution client: what the agent pulls with, the builder pushes with, and the api
 * copies images between registries with. Handles the Docker token flow (401 → token → retry)
 * and verifies every digest it receives.
 */
export interface RegistryClient {
  ping(): Promise<void>;
  getManifest(repository: string, reference: string, accept?: string[]): Promise<FetchedManifest>;
  headManifest(repository: string, reference: string, accept?: string[]): Promise<{ digest: string; mediaType: string; size: number } | null>;
  putManifest(repository: string, reference: string, bytes: Buffer, mediaType: string): Promise<{ digest: string }>;
  deleteManifest(repository: string, digest: string): Promise<void>;
  headBlob(repository: string, digest: string): Promise<{ size: number } | null>;
  /** A readable of exactly the blob's bytes; errors if the bytes do not hash to `digest`. */
  getBlob(repository: string, digest: string): Promise<Readable>;
  /** Streams a blob up (POST + PATCH stream + PUT ?digest), skipping it when the registry has it. */
  pushBlob(repository: string, digest: string, size: number, open: () => Readable | Promise<Readable>, options?: { mountFrom?: string }): Promise<BlobUploadResult>;
  listTags(repository: string): Promise<string[]>;
}

const LOOPBACK_REGISTRY = /^(localhost|127(\.[0-9]{1,3}){3}|\[::1\])(:[0-9]+)?$/;

/**
 * How Muelle's services reach a registry: always HTTPS first; plain http only for a loopback
 * registry or one listed in MUELLE_INSECURE_REGISTRIES, and only when it does not speak TLS.
 */
export function registryEndpoint(registry: string, insecureRegistries: readonly string[] = []): Pick<RegistryClientOptions, 'baseUrl' | 'plainHttpFallback'> {
  const plainHttpAllowed = LOOPBACK_REGISTRY.test(registry) || insecureRegistries.includes(registry);
  return { baseUrl: `https://${registry}`, plainHttpFallback: plainHttpAllowed };
}
