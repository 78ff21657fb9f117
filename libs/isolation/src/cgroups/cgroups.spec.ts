import { sharesToWeight, weightToShares } from './cgroup-driver';
import { parseMountInfo, v1Hierarchies } from './mountinfo';

describe('cpu shares <-> weight', () => {
  it('follows the runc mapping at the ends and the defaults', () => {
    expect(sharesToWeight(2)).toBe(1);
    expect(sharesToWeight(1024)).toBe(39);
    expect(sharesToWeight(262144)).toBe(10000);
    expect(weightToShares(1)).toBe(2);
    expect(weightToShares(10000)).toBe(262144);
  });

  it('clamps out-of-range values', () => {
    expect(sharesToWeight(0)).toBe(1);
    expect(weightToShares(20000)).toBe(262144);
  });
});

describe('mountinfo', () => {
  const text = [
    '30 24 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755',
    '31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid shared:10 - cgroup2 cgroup2 rw',
    '33 30 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:13 - cgroup cgroup rw,cpu,cpuacct',
    '34 30 0:30 / /sys/fs/cgroup/memory rw,nosuid shared:14 - cgroup cgroup rw,memory',
    '35 30 0:31 / /sys/fs/cgroup/systemd rw shared:15 - cgroup cgroup rw,xattr,name=systemd',
    '36 24 0:32 / /mnt/with\\040space rw - ext4 /dev/sda1 rw',
  ].join('\n');

  it('parses mount points, types and super options (with optional fields and escapes)', () => {
    const entries = parseMountInfo(text);
    expect(entries).toHaveLength(6);
    expect(entries[5]).toEqual({ mountPoint: '/mnt/with space', fsType: 'ext4', superOptions: ['rw'] });
  });

  it('maps v1 controllers to their hierarchy, co-mounted ones to the same place', () => {
    const h = v1Hierarchies(parseMountInfo(text));
    expect(h.get('cpu')).toBe('/sys/fs/cgroup/cpu,cpuacct');
    expect(h.get('cpuacct')).toBe('/sys/fs/cgroup/cpu,cpuacct');
    expect(h.get('memory')).toBe('/sys/fs/cgroup/memory');
    expect(h.has('name=systemd')).toBe(false);
    expect(h.has('xattr')).toBe(false);
  });
});
