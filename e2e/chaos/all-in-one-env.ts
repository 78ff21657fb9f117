import { freePort } from '@muelle/testing';

/**
 * The environment of one all-in-one process for the chaos suites: its own data folder, free ports
 * for every service, and the api/registry URLs. `extra` adds or overrides variables.
 */
export async function allInOneEnv(dataDir: string, password: string, hostId: string, extra: Record<string, string> = {}) {
  const ports = { api: await freePort(), registry: await freePort(), metadata: await freePort(), builder: await freePort(), agent: await freePort() };
  const env: Record<string, string> = {
    MUELLE_DATA_DIR: dataDir,
    MUELLE_ADMIN_PASSWORD: password,
    MUELLE_API_PORT: String(ports.api),
    MUELLE_REGISTRY_PORT: String(ports.registry),
    MUELLE_METADATA_PORT: String(ports.metadata),
    MUELLE_BUILDER_PORT: String(ports.builder),
    MUELLE_AGENT_PORT: String(ports.agent),
    MUELLE_HOST_ID: hostId,
    MUELLE_LOG_LEVEL: 'warn',
    ...extra,
  };
  return { env, api: `http://127.0.0.1:${ports.api}`, registry: `http://127.0.0.1:${ports.registry}` };
}
