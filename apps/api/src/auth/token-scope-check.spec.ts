import { Principal } from '@muelle/contracts';
import { scopeRefusal } from './token-scope-check';

const robot = (scopes: Principal['scopes']): Principal => ({
  user: { id: '6a1f0d7e-0000-4000-8000-000000000001', username: 'alpha+ci', role: 'member' },
  teamId: '6a1f0d7e-0000-4000-8000-000000000002',
  teamName: 'alpha',
  kind: 'robot',
  scopes,
});

describe('scopeRefusal', () => {
  const pushOnly = robot([{ resource: 'repository', pattern: 'alpha/*', actions: ['pull', 'push'] }]);

  it('lets a repository-scoped robot list and push images, and refuses containers', () => {
    expect(scopeRefusal(pushOnly, 'GET', '/v1/images')).toBeNull();
    expect(scopeRefusal(pushOnly, 'POST', '/v1/images/push')).toBeNull();
    expect(scopeRefusal(pushOnly, 'DELETE', '/v1/images/alpha/app:1')).toMatch(/delete on repository/);
    expect(scopeRefusal(pushOnly, 'POST', '/v1/containers')).toMatch(/create on container/);
    expect(scopeRefusal(pushOnly, 'POST', '/docker-engine/v1.43/containers/create')).toMatch(/create on container/);
    expect(scopeRefusal(pushOnly, 'GET', '/v1/me')).toBeNull();
    expect(scopeRefusal(pushOnly, 'GET', '/v1/unknown-thing')).toMatch(/may not use/);
  });

  it('tells reading, creating, changing and exec apart', () => {
    const reader = robot([{ resource: 'container', actions: ['read'] }]);
    expect(scopeRefusal(reader, 'GET', '/v1/containers?all=true')).toBeNull();
    expect(scopeRefusal(reader, 'POST', '/v1/containers/web/stop')).toMatch(/update on container/);
    expect(scopeRefusal(reader, 'POST', '/v1/containers/web/exec')).toMatch(/exec on container/);
    // docker cp: reading files is reading the container, writing them is exec.
    expect(scopeRefusal(reader, 'GET', '/docker-engine/v1.43/containers/web/archive?path=/etc')).toBeNull();
    expect(scopeRefusal(robot([{ resource: 'container', actions: ['read', 'update'] }]), 'PUT', '/docker-engine/containers/web/archive?path=/tmp')).toMatch(/exec on container/);
    const runner = robot([{ resource: 'container', actions: ['read', 'create', 'update', 'exec'] }]);
    expect(scopeRefusal(runner, 'POST', '/v1/containers')).toBeNull();
    expect(scopeRefusal(runner, 'POST', '/v1/containers/web/exec')).toBeNull();
    expect(scopeRefusal(runner, 'DELETE', '/v1/containers/web')).toMatch(/delete on container/);
  });

  it('does not touch unscoped principals', () => {
    expect(scopeRefusal({ ...pushOnly, kind: 'user', scopes: undefined }, 'DELETE', '/v1/containers/web')).toBeNull();
  });
});
