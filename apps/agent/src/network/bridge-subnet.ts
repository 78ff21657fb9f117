import { AllocateHostSubnetRequest, ConflictError, MuelleError, TimeoutError, UnavailableError } from '@muelle/contracts';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { hostNetworkEntries } from './subnet-overlap';

/** The subnet every agent used before subnets came from metadata: kept when its leases are still there. */
export const LEGACY_BRIDGE_SUBNET = '10.89.0.0/24';

export interface BridgeSubnetSource {
  /** MUELLE_BRIDGE_SUBNET: the operator's choice, used as is. */
  configured?: string;
  /** Where the subnet granted by metadata is kept, so later starts need no metadata. */
  file: string;
  /** The IPAM file: leases of an agent from before mean its containers live in LEGACY_BRIDGE_SUBNET. */
  ipamFile: string;
  bridge: string;
  hostId: string;
  /** The address manager (metadata's allocateHostSubnet over the bus). */
  allocate: (request: AllocateHostSubnetRequest) => Promise<{ subnet: string }>;
  logger: Logger;
  retryMs?: number;
}

/**
 * The default bridge's subnet: configured, else the one metadata granted this host earlier (kept in
 * the data folder), else a new grant — distinct from every other host's and from what this host
 * routes elsewhere. Asks again every `retryMs` until metadata answers, as registration does.
 */
export async function resolveBridgeSubnet(o: BridgeSubnetSource): Promise<string> {
  if (o.configured) return o.configured;
  const stored = await readJson<{ subnet?: string }>(o.file);
  if (stored?.subnet) return stored.subnet;
  const legacyLeases = Object.keys((await readJson<{ leases?: Record<string, string> }>(o.ipamFile))?.leases ?? {});
  const avoid = (await hostNetworkEntries()).filter((e) => e.dev !== o.bridge && e.cidr !== '0.0.0.0/0').map((e) => e.cidr);
  const request = { hostId: o.hostId, avoid, ...(legacyLeases.length ? { preferred: LEGACY_BRIDGE_SUBNET } : {}) };
  for (;;) {
    try {
      const { subnet } = await o.allocate(request);
      if (legacyLeases.length && subnet !== LEGACY_BRIDGE_SUBNET) {
        throw new ConflictError(
          `containers of this host hold addresses in ${LEGACY_BRIDGE_SUBNET}, which another host holds now (granted ${subnet}); set MUELLE_BRIDGE_SUBNET=${LEGACY_BRIDGE_SUBNET} on this host or remove its containers`,
        );
      }
      await mkdir(dirname(o.file), { recursive: true });
      await writeFile(`${o.file}.tmp`, JSON.stringify({ subnet }));
      await rename(`${o.file}.tmp`, o.file);
      o.logger.info({ subnet }, 'bridge subnet granted by the address manager');
      return subnet;
    } catch (error) {
      // Only "metadata is not there yet" is worth waiting for; a refusal stays a refusal.
      if (error instanceof MuelleError && !(error instanceof UnavailableError) && !(error instanceof TimeoutError)) throw error;
      o.logger.warn({ err: error }, 'address manager not reachable yet: asking again for the bridge subnet');
      await sleep(o.retryMs ?? 1_000, undefined, { ref: false });
    }
  }
}

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // first start: nothing kept yet
    throw new Error(`${file} is unreadable (${(error as Error).message}); remove it to start over`);
  }
}
