import { NotFoundError } from '@muelle/contracts';

/**
 * Docker's `/exec/{id}/…` routes name no container, Muelle's agents need one: the Docker exec id
 * carries both (container id + agent exec id, 128 hex), so any api process can serve it.
 */
export function encodeExecId(containerId: string, execId: string): string {
  return `${containerId}${execId}`;
}

export function decodeExecId(dockerExecId: string): { containerId: string; execId: string } {
  if (!/^[a-f0-9]{128}$/.test(dockerExecId)) throw new NotFoundError(`No such exec instance: ${dockerExecId}`);
  return { containerId: dockerExecId.slice(0, 64), execId: dockerExecId.slice(64) };
}
