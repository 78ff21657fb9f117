// The busybox base both docker-parity recorders import into a dedicated dockerd.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/** The same base as apps/builder/test/support.ts `seedBusybox`: busybox-static rootfs, fixed mtimes, Env PATH, Cmd sh. */
export function importBase(repoRoot, work, docker, tag) {
  const rootfs = join(work, 'rootfs');
  execFileSync(join(repoRoot, 'tools', 'images', 'make-busybox-rootfs.sh'), [rootfs], { stdio: 'inherit' });
  execFileSync('find', [rootfs, '-exec', 'touch', '-h', '-d', '2024-01-01T00:00:00Z', '{}', '+']);
  const tar = join(work, 'rootfs.tar');
  execFileSync('tar', ['-C', rootfs, '--numeric-owner', '-cf', tar, '.']);
  docker(['import', '-c', 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', '-c', 'CMD ["sh"]', tar, tag]);
}
