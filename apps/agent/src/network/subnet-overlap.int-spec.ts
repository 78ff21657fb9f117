import { assertSubnetFree, hostNetworkEntries } from './subnet-overlap';

/** Reads this host's real routes and addresses (read-only: nothing is created). */
describe('bridge subnet overlap on this host', () => {
  it('refuses a subnet inside an address of a real interface, naming both', async () => {
    const address = (await hostNetworkEntries()).find((e) => e.kind === 'address' && e.dev !== 'lo');
    expect(address).toBeDefined();
    await expect(assertSubnetFree(address!.cidr.replace(/\/\d+$/, '/30').replace(/\.\d+\//, '.0/'), 'muelle-none0')).rejects.toThrow(
      new RegExp(`overlaps the host's (route|address) .* on ${address!.dev}`),
    );
  });

  it('accepts a subnet nothing on the host uses (TEST-NET-3)', async () => {
    await expect(assertSubnetFree('203.0.113.0/24', 'muelle-none0')).resolves.toBeUndefined();
  });
});
