import { AllocateHostSubnetRequest, ConflictError } from '@muelle/contracts';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { LEGACY_BRIDGE_SUBNET, resolveBridgeSubnet } from './bridge-subnet';

describe('the default bridge subnet', () => {
  let dir: string;
  let asked: AllocateHostSubnetRequest[];
  const source = (allocate: (r: AllocateHostSubnetRequest) => Promise<{ subnet: string }>, configured?: string) => ({
    configured,
    file: join(dir, 'subnet.json'),
    ipamFile: join(dir, 'ipam.json'),
    bridge: 'muelle-none0',
    hostId: 'h1',
    logger: pino({ level: 'silent' }),
    retryMs: 10,
    allocate: (request: AllocateHostSubnetRequest) => {
      asked.push(request);
      return allocate(request);
    },
  });
  const grant = (subnet: string) => async () => ({ subnet });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'bridge-subnet-'));
    asked = [];
  });

  it('uses MUELLE_BRIDGE_SUBNET as is, without asking metadata', async () => {
    await expect(resolveBridgeSubnet(source(grant('10.89.3.0/24'), '10.233.0.0/24'))).resolves.toBe('10.233.0.0/24');
    expect(asked).toEqual([]);
  });

  it('asks the address manager once (naming the host and what it routes), then keeps the grant in the data folder', async () => {
    await expect(resolveBridgeSubnet(source(grant('10.89.3.0/24')))).resolves.toBe('10.89.3.0/24');
    expect(asked).toHaveLength(1);
    expect(asked[0]).toMatchObject({ hostId: 'h1' });
    expect(asked[0]?.preferred).toBeUndefined();
    expect(asked[0]?.avoid.length).toBeGreaterThan(0); // this machine has at least one route or address
    expect(JSON.parse(readFileSync(join(dir, 'subnet.json'), 'utf8'))).toEqual({ subnet: '10.89.3.0/24' });
    await expect(resolveBridgeSubnet(source(grant('10.89.9.0/24')))).resolves.toBe('10.89.3.0/24');
    expect(asked).toHaveLength(1);
  });

  it('asks again until metadata answers, but gives up at once on a refusal', async () => {
    let calls = 0;
    const flaky = async () => {
      if (++calls < 3) throw new Error('no responders');
      return { subnet: '10.89.4.0/24' };
    };
    await expect(resolveBridgeSubnet(source(flaky))).resolves.toBe('10.89.4.0/24');
    expect(calls).toBe(3);
    const refused = async () => {
      throw new ConflictError('no free /24 left');
    };
    await expect(resolveBridgeSubnet({ ...source(refused), file: join(dir, 'other.json') })).rejects.toThrow(/no free \/24 left/);
  });

  it('an agent from before (leases in the old default subnet) asks to keep it, and says what to do when it cannot', async () => {
    writeFileSync(join(dir, 'ipam.json'), JSON.stringify({ leases: { '10.89.0.7': 'c1' }, last: 7 }));
    await expect(resolveBridgeSubnet(source(grant('10.89.5.0/24')))).rejects.toThrow(`set MUELLE_BRIDGE_SUBNET=${LEGACY_BRIDGE_SUBNET}`);
    expect(asked[0]?.preferred).toBe(LEGACY_BRIDGE_SUBNET);
    await expect(resolveBridgeSubnet(source(grant(LEGACY_BRIDGE_SUBNET)))).resolves.toBe(LEGACY_BRIDGE_SUBNET);
  });
});
