import { InvalidArgumentError, PermissionDeniedError, Principal } from '@muelle/contracts';
import { buildNetworkFor } from './builds.service';

const principal = (role: 'admin' | 'member') => ({ user: { role }, teamId: null, teamName: null }) as unknown as Principal;

describe('buildNetworkFor: the one decision on a build network', () => {
  it('gives RUN steps no network by default', () => {
    expect(buildNetworkFor(principal('member'), undefined)).toBe('none');
    expect(buildNetworkFor(principal('member'), 'default')).toBe('none');
    expect(buildNetworkFor(principal('member'), 'none')).toBe('none');
  });

  it('refuses --network host to members with 403 naming the option', () => {
    expect(() => buildNetworkFor(principal('member'), 'host')).toThrow(PermissionDeniedError);
    expect(() => buildNetworkFor(principal('member'), 'host')).toThrow('--network host on builds needs the admin role');
  });

  it('lets admins build with the host network', () => {
    expect(buildNetworkFor(principal('admin'), 'host')).toBe('host');
  });

  it('refuses modes it does not implement, naming them', () => {
    expect(() => buildNetworkFor(principal('admin'), 'bridge')).toThrow(InvalidArgumentError);
    expect(() => buildNetworkFor(principal('admin'), 'bridge')).toThrow('build network bridge is not supported');
  });
});
