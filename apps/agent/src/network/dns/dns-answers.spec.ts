import type { NetworkNameEntry } from '@muelle/contracts';
import { decide } from './dns-answers';

const entry = (over: Partial<NetworkNameEntry>): NetworkNameEntry => ({
  containerId: 'c'.repeat(64),
  name: 'x',
  aliases: [],
  address: '10.1.0.2',
  service: null,
  running: true,
  health: null,
  ...over,
});

const net: NetworkNameEntry[] = [
  entry({ name: 'client', address: '10.1.0.2' }),
  entry({ name: 'db-1', aliases: ['Postgres', 'db.internal'], address: '10.1.0.3' }),
  entry({ name: 'web-a', service: 'web', address: '10.1.0.4', health: 'healthy' }),
  entry({ name: 'web-b', service: 'web', address: '10.1.0.5', health: null }),
  entry({ name: 'web-c', service: 'web', address: '10.1.0.6', health: 'unhealthy' }),
  entry({ name: 'web-d', service: 'web', address: '10.1.0.7', health: 'starting' }),
  entry({ name: 'stopped', address: '10.1.0.8', running: false }),
];
const ask = (name: string, type = 'A', turn = 0, asker = '10.1.0.2') => decide({ name, type }, net, asker, turn);

describe('a network resolver’s answers', () => {
  it('answers a container’s name and its aliases on the network, in any case, with or without the final dot', () => {
    expect(ask('client')).toEqual({ kind: 'addresses', addresses: ['10.1.0.2'] });
    expect(ask('postgres.')).toEqual({ kind: 'addresses', addresses: ['10.1.0.3'] });
    expect(ask('DB.internal')).toEqual({ kind: 'addresses', addresses: ['10.1.0.3'] });
  });

  it('answers a service with one of its serving replicas only, round-robin, and tasks.<service> with every running one', () => {
    // One replica per answer, the next each time (a client's resolver would sort a list: see dns-answers.ts).
    expect(ask('web', 'A', 0)).toEqual({ kind: 'addresses', addresses: ['10.1.0.4'] });
    expect(ask('web', 'A', 1)).toEqual({ kind: 'addresses', addresses: ['10.1.0.5'] });
    expect(ask('web', 'A', 2)).toEqual({ kind: 'addresses', addresses: ['10.1.0.4'] });
    expect(ask('tasks.web')).toEqual({ kind: 'addresses', addresses: ['10.1.0.4', '10.1.0.5', '10.1.0.6', '10.1.0.7'] });
  });

  it('answers an alias a service’s replicas carry (a stack’s short name) as the service: serving replicas, and tasks.<alias>', () => {
    const stack = [
      entry({ name: 'client', address: '10.1.0.2' }),
      entry({ name: 'shop-web.1', service: 'shop-web', aliases: ['web'], address: '10.1.0.4', health: 'healthy' }),
      entry({ name: 'shop-web.2', service: 'shop-web', aliases: ['web'], address: '10.1.0.5', health: 'unhealthy' }),
    ];
    expect(decide({ name: 'web', type: 'A' }, stack, '10.1.0.2', 0)).toEqual({ kind: 'addresses', addresses: ['10.1.0.4'] });
    expect(decide({ name: 'shop-web', type: 'A' }, stack, '10.1.0.2', 0)).toEqual({ kind: 'addresses', addresses: ['10.1.0.4'] });
    expect(decide({ name: 'tasks.web', type: 'A' }, stack, '10.1.0.2', 0)).toEqual({ kind: 'addresses', addresses: ['10.1.0.4', '10.1.0.5'] });
  });

  it('forwards names that are not the network’s (a stopped container’s, another network’s) and tasks. of no service', () => {
    expect(ask('stopped')).toEqual({ kind: 'forward' });
    expect(ask('other-teams-web')).toEqual({ kind: 'forward' });
    expect(ask('example.org')).toEqual({ kind: 'forward' });
    expect(ask('tasks.client')).toEqual({ kind: 'forward' });
  });

  it('says "no such record" for other types of a network name, so a client does not look it up elsewhere', () => {
    expect(ask('client', 'AAAA')).toEqual({ kind: 'no-data' });
  });

  it('refuses a client that is not on the network', () => {
    expect(ask('client', 'A', 0, '10.9.9.9')).toEqual({ kind: 'refused' });
    expect(decide({ name: 'client', type: 'A' }, [], '10.1.0.2', 0)).toEqual({ kind: 'refused' });
  });
});
