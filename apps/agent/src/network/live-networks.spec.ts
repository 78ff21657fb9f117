import type { NetworkEndpoint } from '@muelle/contracts';
import type { ExtraNetworks } from './extra-networks';
import { connectPlan, disconnectPlan, LiveNetworks, type NetworkedContainer } from './live-networks';

const endpoint = (name: string, address: string): NetworkEndpoint => ({ id: name.padEnd(64, '0').replace(/[^0-9a-f]/g, 'a'), name, address });
const front = endpoint('front', '10.90.0.2');
const back = endpoint('back', '10.90.1.3');
const db = endpoint('db', '10.90.2.4');
const container = (state: string, networks: NetworkEndpoint[], initPid: number | null = state === 'running' ? 4242 : null): NetworkedContainer => ({
  id: 'c'.repeat(64),
  state,
  initPid,
  spec: { network: 'bridge', networks },
});

/** The agent's side of network connect/disconnect: what changes, and what is wired now (ExtraNetworks is a recording fake). */
describe('live network connect/disconnect on the host', () => {
  const calls: string[] = [];
  const extra = {
    joinOne: async (_id: string, pid: number, e: NetworkEndpoint, ifName: string) => void calls.push(`join ${e.name} ${ifName} pid ${pid}`),
    leaveOne: async (_id: string, e: NetworkEndpoint) => void calls.push(`leave ${e.name}`),
  } as unknown as ExtraNetworks;
  const live = new LiveNetworks(() => extra, async () => ['lo', 'eth0', 'eth2']);
  beforeEach(() => (calls.length = 0));

  it('wires a running container now, under the lowest free ethN, and appends the network', async () => {
    expect(await live.connect(container('running', [front, back]), db)).toEqual([front, back, db]);
    expect(calls).toEqual(['join db eth1 pid 4242']);
  });

  it('only records the network of a stopped or created container: its next start wires it', async () => {
    for (const state of ['created', 'exited', 'restarting']) expect(await live.connect(container(state, [front]), back)).toEqual([front, back]);
    expect(calls).toEqual([]);
  });

  it('unwires a running container and forgets the network; a network this host never had changes nothing', async () => {
    expect(await live.disconnect(container('running', [front, back, db]), back.id)).toEqual([front, db]);
    expect(await live.disconnect(container('exited', [front, db]), db.id)).toEqual([front]);
    expect(await live.disconnect(container('running', [front]), back.id)).toEqual([front]);
    expect(calls).toEqual(['leave back']);
  });

  it('refuses a second join of the same network (the record and the host disagree otherwise)', () => {
    expect(() => connectPlan(container('running', [front, back]), back)).toThrow(/already connected to network back/);
    expect(disconnectPlan(container('running', [front, back]), db.id)).toEqual({ networks: [front, back], live: false });
  });
});
