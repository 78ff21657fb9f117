import { ConflictError, InvalidArgumentError, NotFoundError } from '@muelle/contracts';
import { dockerError, NotSupportedByMuelleError, withDockerStatus } from './errors';
import { networkFilter, toDockerNetwork, toMuelleConnect, toMuelleDisconnect, toMuelleNetwork } from './networks.mapping';

/** What docker-compose 1.29 (docker-py) sends for a project's default network. */
const composeBody = {
  Name: 'shop_default',
  Driver: null,
  Options: null,
  IPAM: null,
  CheckDuplicate: true,
  Labels: { 'com.docker.compose.network': 'default', 'com.docker.compose.project': 'shop', 'com.docker.compose.version': '1.29.2' },
  Internal: false,
  Attachable: true,
};

describe('Docker /networks mapping', () => {
  it("takes compose's and the docker CLI's bodies", () => {
    expect(toMuelleNetwork(composeBody)).toEqual({ name: 'shop_default', driver: 'bridge', internal: false, labels: composeBody.Labels });
    const cli = { Name: 'back', Driver: 'overlay', Internal: true, IPAM: { Driver: 'default', Config: [{ Subnet: '10.30.0.0/24', Gateway: '10.30.0.254' }], Options: {} }, Options: {}, Labels: {}, CheckDuplicate: true, Scope: 'swarm' };
    expect(toMuelleNetwork(cli)).toEqual({ name: 'back', driver: 'overlay', subnet: '10.30.0.0/24', gateway: '10.30.0.254', internal: true, labels: {} });
  });

  it.each([
    [{ EnableIPv6: true }, /IPv6 \(--ipv6\)/],
    [{ Driver: 'macvlan' }, /network driver macvlan/],
    [{ IPAM: { Driver: 'dhcp' } }, /IPAM driver dhcp/],
    [{ IPAM: { Options: { a: 'b' } } }, /IPAM options/],
    [{ IPAM: { Config: [{ Subnet: '10.1.0.0/24' }, { Subnet: '10.2.0.0/24' }] } }, /more than one subnet/],
    [{ IPAM: { Config: [{ Subnet: '10.1.0.0/24', IPRange: '10.1.0.0/25' }] } }, /--ip-range/],
    [{ IPAM: { Config: [{ Subnet: 'fd00::/64' }] } }, /IPv6/],
    [{ IPAM: { Config: [{ Subnet: '10.1.0.0/24', AuxiliaryAddresses: { a: '10.1.0.5' } }] } }, /--aux-address/],
    [{ Options: { 'com.docker.network.bridge.name': 'br9' } }, /driver option com\.docker\.network\.bridge\.name/],
    [{ Ingress: true }, /ingress/],
    [{ ConfigOnly: true }, /config-only/],
    [{ Future: 1 }, /network option Future/],
  ])('refuses %j naming the option', (extra, message) => {
    const attempt = () => toMuelleNetwork({ Name: 'n', ...extra });
    expect(attempt).toThrow(NotSupportedByMuelleError);
    expect(attempt).toThrow(message);
  });

  it('answers bad names and subnets with a 400 naming the field', () => {
    expect(() => toMuelleNetwork({ Name: 'host' })).toThrow(InvalidArgumentError);
    expect(() => toMuelleNetwork({ Name: 'n', IPAM: { Config: [{ Subnet: '10.1.0.0/33' }] } })).toThrow(/body.subnet/);
    expect(() => toMuelleNetwork({ Name: 'n', IPAM: { Config: [{ Subnet: '10.1.0.0/24', Gateway: '10.2.0.1' }] } })).toThrow(/body.gateway/);
  });

  const record = { id: 'a'.repeat(64), name: 'shop_default', teamId: null, driver: 'bridge' as const, subnet: '10.90.3.0/24', gateway: '10.90.3.1', internal: false, labels: { 'com.docker.compose.project': 'shop' }, createdAt: '2026-12-03T18:00:00.000Z', vni: 4097 };

  it("shows a network as Docker's inspect does", () => {
    const endpoint = { containerId: 'b'.repeat(64), name: 'web', macAddress: '02:42:0a:5a:03:02', ipv4Address: '10.90.3.2/24' };
    expect(toDockerNetwork(record, [endpoint])).toMatchObject({
      Name: 'shop_default',
      Id: record.id,
      Scope: 'local',
      Driver: 'bridge',
      IPAM: { Driver: 'default', Config: [{ Subnet: '10.90.3.0/24', Gateway: '10.90.3.1' }] },
      Containers: { [endpoint.containerId]: { Name: 'web', IPv4Address: '10.90.3.2/24' } },
      Labels: record.labels,
    });
  });

  it('filters by name, id, label and driver, and refuses other filters', () => {
    expect(networkFilter({ name: ['shop'] })(record)).toBe(true);
    expect(networkFilter({ id: ['aaaa'], driver: ['bridge'] })(record)).toBe(true);
    expect(networkFilter({ label: ['com.docker.compose.project=shop'] })(record)).toBe(true);
    expect(networkFilter({ label: ['com.docker.compose.project=other'] })(record)).toBe(false);
    expect(networkFilter({ driver: ['overlay'] })(record)).toBe(false);
    expect(() => networkFilter({ dangling: ['true'] })).toThrow(/networks filter dangling/);
  });
});

describe('Docker network connect/disconnect bodies', () => {
  /** docker CLI 28's `network connect --alias web front app`: every endpoint field, zero but the aliases. */
  const cli = { Container: 'app', EndpointConfig: { IPAMConfig: {}, Links: null, Aliases: ['web'], DriverOpts: null, GwPriority: 0, NetworkID: '', EndpointID: '', Gateway: '', IPAddress: '', MacAddress: '', IPPrefixLen: 0, IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, DNSNames: null } };

  it("takes the CLI's connect body and docker-py's bare one, and the disconnect body with Force", () => {
    expect(toMuelleConnect(cli)).toEqual({ container: 'app', aliases: ['web'] });
    expect(toMuelleConnect({ Container: 'app' })).toEqual({ container: 'app', aliases: [] });
    expect(toMuelleDisconnect({ Container: 'app', Force: true })).toEqual({ container: 'app', force: true });
    expect(toMuelleDisconnect({ Container: 'app' })).toEqual({ container: 'app', force: false });
  });

  it.each([
    [{ EndpointConfig: { IPAMConfig: { IPv4Address: '10.90.0.9' } } }, /--ip\/--ip6 is not supported/],
    [{ EndpointConfig: { Links: ['db:db'] } }, /--link is not supported/],
    [{ EndpointConfig: { DriverOpts: { a: 'b' } } }, /network driver options is not supported/],
    [{ EndpointConfig: { IPAddress: '10.90.0.9' } }, /EndpointConfig\.IPAddress is not supported/],
    [{ Extra: 1 }, /the field Extra is not supported/],
  ])('refuses an option it does not implement by name: %j', (extra, message) => {
    const attempt = () => toMuelleConnect({ Container: 'app', ...extra });
    expect(attempt).toThrow(NotSupportedByMuelleError);
    expect(attempt).toThrow(message);
  });

  it('names what is wrong: no container (as dockerd), a bad alias', () => {
    expect(() => toMuelleConnect({})).toThrow('invalid name or ID supplied: ""');
    expect(() => toMuelleDisconnect({ Container: '' })).toThrow(InvalidArgumentError);
    expect(() => toMuelleConnect({ Container: 'app', EndpointConfig: { Aliases: ['no spaces'] } })).toThrow(/EndpointConfig\.Aliases: a DNS name/);
  });
});

describe("dockerd's statuses where they differ from Muelle's", () => {
  it('keeps the message and gives the mapped code its dockerd status; other errors pass unchanged', async () => {
    const connected = new ConflictError('endpoint with name app already exists in network back');
    await expect(withDockerStatus(Promise.reject(connected), { CONFLICT: 403 }).catch(dockerError)).resolves.toEqual({ status: 403, message: connected.message });
    await expect(withDockerStatus(Promise.reject(new NotFoundError('no such network: x')), { CONFLICT: 403 }).catch(dockerError)).resolves.toMatchObject({ status: 404 });
    await expect(withDockerStatus(Promise.resolve('done'), { CONFLICT: 403 })).resolves.toBe('done');
  });
});
