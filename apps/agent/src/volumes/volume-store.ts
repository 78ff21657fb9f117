import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { treeBytes } from '../containers/disk-usage';
import { ContainerSpec, ConflictError, InvalidArgumentError, NotFoundError, VolumeInfo } from '@muelle/contracts';

/** Longest volume name on disk (the contracts' VolumeName). */
const MAX_STORED_NAME = 128;

/**
 * The name a team's volume is stored under: `t<16 hex of sha256(teamId)>.<name>`. Members always
 * get their team's prefix, so no name a member types reaches another team's volume (or a
 * host-wide one); containers without a team (admins) use the name as typed, which keeps the
 * volumes made before teams had their own.
 */
export function teamVolumeName(teamId: string | null, name: string): string {
  if (teamId === null) return name;
  const scoped = `t${createHash('sha256').update(teamId).digest('hex').slice(0, 16)}.${name}`;
  if (scoped.length > MAX_STORED_NAME) throw new InvalidArgumentError(`volume name ${name} is too long: a team's volume names have at most ${MAX_STORED_NAME - (scoped.length - name.length)} characters`);
  return scoped;
}

/** The spec as this host stores it: named volumes resolved to the team's own. */
export function withTeamVolumes(spec: ContainerSpec, teamId: string | null): ContainerSpec {
  return { ...spec, volumes: spec.volumes.map((v) => (v.kind === 'volume' ? { ...v, source: teamVolumeName(teamId, v.source) } : v)) };
}

interface VolumeMeta {
  name: string;
  labels: Record<string, string>;
  createdAt: string;
}

/** Named volumes: `volumes/<stored name>/_data` plus `meta.json` (see teamVolumeName). They outlive the containers using them. */
export class VolumeStore {
  private readonly dir: string;

  constructor(dataDir: string) {
    this.dir = join(dataDir, 'volumes');
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }

  dataPath(name: string): string {
    return join(this.dir, name, '_data');
  }

  private async meta(name: string): Promise<VolumeMeta | undefined> {
    try {
      return JSON.parse(await readFile(join(this.dir, name, 'meta.json'), 'utf8')) as VolumeMeta;
    } catch {
      // No such volume (or one being removed): callers answer not found.
      return undefined;
    }
  }

  /** Creates the volume, or returns the existing one (docker's behaviour for `create` and `-v name:`). */
  async ensure(name: string, labels: Record<string, string> = {}): Promise<VolumeMeta> {
    const existing = await this.meta(name);
    if (existing) return existing;
    const meta: VolumeMeta = { name, labels, createdAt: new Date().toISOString() };
    await mkdir(this.dataPath(name), { recursive: true, mode: 0o755 });
    await writeFile(join(this.dir, name, 'meta.json'), JSON.stringify(meta));
    return meta;
  }

  async list(): Promise<VolumeMeta[]> {
    const out: VolumeMeta[] = [];
    for (const name of await readdir(this.dir)) {
      const meta = await this.meta(name);
      if (meta) out.push(meta);
    }
    return out;
  }

  async remove(name: string, usedBy: string[], force: boolean): Promise<void> {
    if (!(await this.meta(name))) throw new NotFoundError(`no such volume: ${name}`);
    if (usedBy.length && !force) throw new ConflictError(`volume ${name} is in use by ${usedBy.map((id) => id.slice(0, 12)).join(', ')}`);
    await rm(join(this.dir, name), { recursive: true, force: true });
  }

  /** Bytes under the volume's data directory (apparent sizes, hard links once, as container sizes). */
  async size(name: string): Promise<number> {
    if (!(await this.meta(name))) throw new NotFoundError(`no such volume: ${name}`);
    return treeBytes(this.dataPath(name));
  }

  toInfo(meta: VolumeMeta, usedBy: string[]): VolumeInfo {
    return { name: meta.name, mountpoint: this.dataPath(meta.name), labels: meta.labels, createdAt: meta.createdAt, usedBy };
  }
}
