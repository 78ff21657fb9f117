export interface MountInfoEntry {
  mountPoint: string;
  fsType: string;
  /** Per-superblock options, e.g. `rw,memory` for a v1 memory hierarchy. */
  superOptions: string[];
}

/** Decodes the octal escapes (`\040` for a space) the kernel uses in mountinfo paths. */
function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Parses /proc/<pid>/mountinfo (proc(5)): fields before " - " vary in number, so split there. */
export function parseMountInfo(text: string): MountInfoEntry[] {
  const entries: MountInfoEntry[] = [];
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    if (left.length < 5 || right.length < 3) continue;
    entries.push({
      mountPoint: unescapeMountPath(left[4]),
      fsType: right[0],
      superOptions: right[2].split(','),
    });
  }
  return entries;
}

/** cgroup v1 mount options that are not controller names. */
const V1_NON_CONTROLLER_OPTIONS = new Set(['rw', 'ro', 'xattr', 'noprefix', 'clone_children', 'cpuset_v2_mode', 'favordynmods']);

/** v1 controller → mount point of its hierarchy (co-mounted controllers share one). */
export function v1Hierarchies(entries: MountInfoEntry[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const e of entries) {
    if (e.fsType !== 'cgroup') continue;
    for (const opt of e.superOptions) {
      if (V1_NON_CONTROLLER_OPTIONS.has(opt) || opt.includes('=')) continue;
      if (!map.has(opt)) map.set(opt, e.mountPoint);
    }
  }
  return map;
}
