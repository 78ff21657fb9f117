import { changedNetworks, parseServiceNetwork } from '../commands/services';
import { parseComposeFile } from './compose-file';
import { ExistingNetwork, planStackNetworks, serviceNetworksOf } from './stack-networks';

const compose = parseComposeFile(
  `
services:
  web:
    image: x
  api:
    image: x
    networks: { default: , back: { aliases: [backend] } }
  worker:
    image: x
    networks: [back, shared]
networks:
  back: { internal: true }
  unused: {}
  shared: { external: true, name: team-net }
`,
  'compose.yaml',
  () => '',
);
const net = (name: string, over: Partial<ExistingNetwork> = {}): ExistingNetwork => ({ id: name.padEnd(64, '0'), name, driver: 'overlay', internal: false, labels: {}, ...over });

describe('a stack’s networks', () => {
  it('makes <stack>_<name> for each network a service uses, never an external or unused one', () => {
    const plan = planStackNetworks('shop', compose, [net('team-net')]);
    expect(plan.create).toEqual([
      { name: 'shop_back', driver: 'overlay', internal: true, labels: { 'muelle.stack': 'shop' } },
      { name: 'shop_default', driver: 'overlay', internal: false, labels: { 'muelle.stack': 'shop' } },
    ]);
    expect(plan.remove).toEqual([]);
  });

  it('on redeploy keeps what is there and removes only the stack’s networks the file no longer uses', () => {
    const label = { 'muelle.stack': 'shop' };
    const old = net('shop_old', { labels: label });
    const plan = planStackNetworks('shop', compose, [net('shop_back', { internal: true, labels: label }), net('shop_default', { labels: label }), old, net('other_old', { labels: { 'muelle.stack': 'other' } })]);
    expect(plan).toEqual({ create: [], remove: [old] });
  });

  it('refuses a network whose options changed, or a name taken by a network that is not the stack’s', () => {
    expect(() => planStackNetworks('shop', compose, [net('shop_back', { labels: { 'muelle.stack': 'shop' } })])).toThrow(
      'network shop_back is overlay; the file asks for overlay, internal: a network cannot change in place (muelle stack rm shop first)',
    );
    expect(() => planStackNetworks('shop', compose, [net('shop_default')])).toThrow("network shop_default exists and is not stack shop's");
  });

  it('puts each service on its team networks with its short compose name as an alias (how `web` resolves in the stack)', () => {
    const [web, api, worker] = compose.services;
    expect(serviceNetworksOf('shop', compose, web!)).toEqual([{ network: 'shop_default', aliases: ['web'] }]);
    expect(serviceNetworksOf('shop', compose, api!)).toEqual([
      { network: 'shop_default', aliases: ['api'] },
      { network: 'shop_back', aliases: ['api', 'backend'] },
    ]);
    expect(serviceNetworksOf('shop', compose, worker!)).toEqual([
      { network: 'shop_back', aliases: ['worker'] },
      { network: 'team-net', aliases: ['worker'] },
    ]);
  });
});

describe('service networks on the command line', () => {
  it('reads --network NAME and name=NAME,alias=A', () => {
    expect(parseServiceNetwork('front')).toEqual({ network: 'front', aliases: [] });
    expect(parseServiceNetwork('name=front,alias=www,alias=web')).toEqual({ network: 'front', aliases: ['www', 'web'] });
    expect(() => parseServiceNetwork('name=front,driver-opt=x')).toThrow('driver-opt is not supported by Muelle');
    expect(() => parseServiceNetwork('alias=www')).toThrow('name=NAME is needed');
  });

  it('applies --network-rm then --network-add, refusing a network the service is not on or already on', () => {
    const current = [
      { network: 'a', aliases: [] },
      { network: 'b', aliases: ['x'] },
    ];
    expect(changedNetworks(current, ['a'], ['c', 'name=a,alias=y'])).toEqual([
      { network: 'b', aliases: ['x'] },
      { network: 'c', aliases: [] },
      { network: 'a', aliases: ['y'] },
    ]);
    expect(() => changedNetworks(current, ['z'], [])).toThrow('--network-rm z: the service is not on that network');
    expect(() => changedNetworks(current, [], ['b'])).toThrow('--network-add b: the service is already on that network');
  });
});
