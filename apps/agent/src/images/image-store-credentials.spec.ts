import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostFs } from '@muelle/isolation';
import { RegistryClient, RegistryClientOptions, RegistryNotFoundError } from '@muelle/registry-client';
import { ImageStore } from './image-store';

/** Which credentials the agent hands the registry client for each image it pulls. */
describe('agent image pulls: credentials go only where they belong', () => {
  const seen: RegistryClientOptions[] = [];
  const factory = (options: RegistryClientOptions) => {
    seen.push(options);
    return { getManifest: async () => Promise.reject(new RegistryNotFoundError('no such image')) } as unknown as RegistryClient;
  };
  const store = new ImageStore(mkdtempSync(join(tmpdir(), 'agent-creds-')), 'muelle.internal:5000', new HostFs(), factory);
  const muelle = { username: 'alice', password: 'muelle-password' };
  const pullWith = async (reference: string, auth?: Parameters<ImageStore['pull']>[1]) => {
    seen.length = 0;
    await expect(store.pull(reference, auth)).rejects.toThrow();
    return seen[0];
  };

  it("sends the Muelle login to Muelle's registry (short names resolve there)", async () => {
    expect((await pullWith('team/app:1', muelle))?.credentials).toEqual(muelle);
    expect((await pullWith('muelle.internal:5000/team/app:1', muelle))?.credentials).toEqual(muelle);
  });

  it('sends the Muelle login nowhere else', async () => {
    expect((await pullWith('evil.example:443/team/app:1', muelle))?.credentials).toBeUndefined();
    expect((await pullWith('muelle.internal:5001/team/app:1', muelle))?.credentials).toBeUndefined();
  });

  it('sends credentials given for a registry to that registry only', async () => {
    const hub = { username: 'alice-hub', password: 'hub-token', registry: 'ghcr.io' };
    expect((await pullWith('ghcr.io/acme/tool:2', hub))?.credentials).toEqual({ username: 'alice-hub', password: 'hub-token' });
    expect((await pullWith('team/app:1', hub))?.credentials).toBeUndefined();
  });
});
