import { lstat, readFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { InvalidArgumentError } from '@muelle/contracts';

/**
 * Looks a path up in unpacked overlay layers (top-most first) without mounting them. Overlay
 * whiteouts (char 0:0) hide lower files. Symlinks in parent directories are not followed, which is
 * enough for /etc/passwd and entrypoint checks in ordinary images.
 */
export async function findInLayers(layerDirs: readonly string[], path: string): Promise<string | undefined> {
  const rel = posix.normalize(path).replace(/^\/+/, '');
  for (const dir of layerDirs) {
    const candidate = join(dir, rel);
    const st = await lstat(candidate).catch(() => undefined);
    if (!st) continue;
    if (st.isCharacterDevice() && st.rdev === 0) return undefined;
    return candidate;
  }
  return undefined;
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Refuses at create time an entrypoint that is not in the image (docker fails only at start). */
export async function checkCommandExists(layerDirs: readonly string[], command: string, env: readonly string[]): Promise<void> {
  if (command.includes('/')) {
    if (!(await findInLayers(layerDirs, command))) throw new InvalidArgumentError(`entrypoint ${command}: no such file in the image`);
    return;
  }
  const pathVar = env.find((e) => e.startsWith('PATH='))?.slice(5) ?? DEFAULT_PATH;
  for (const dir of pathVar.split(':')) {
    if (dir.startsWith('/') && (await findInLayers(layerDirs, posix.join(dir, command)))) return;
  }
  throw new InvalidArgumentError(`entrypoint ${command}: not found in the image's PATH (${pathVar})`);
}

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home: string;
}

function parseColonFile(text: string): string[][] {
  return text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(':'));
}

/**
 * `user`, `uid`, `user:group` or `uid:gid` resolved against the image's /etc/passwd and
 * /etc/group (`readFileInRoot` reads from layers or a mounted root). Unknown names fail.
 */
export async function resolveUser(spec: string | undefined, readFileInRoot: (path: string) => Promise<string | undefined>): Promise<ResolvedUser> {
  const passwd = parseColonFile((await readFileInRoot('/etc/passwd')) ?? '');
  const groups = parseColonFile((await readFileInRoot('/etc/group')) ?? '');
  const [userPart, groupPart] = (spec || '0').split(':', 2) as [string, string | undefined];
  let uid: number;
  let gid: number;
  let home = '/';
  let userName: string | undefined;
  const entry = /^\d+$/.test(userPart) ? passwd.find((p) => p[2] === userPart) : passwd.find((p) => p[0] === userPart);
  if (/^\d+$/.test(userPart)) {
    uid = Number(userPart);
    gid = entry ? Number(entry[3]) : 0;
  } else {
    if (!entry) throw new InvalidArgumentError(`unable to find user ${userPart}: no matching entries in the image's /etc/passwd`);
    uid = Number(entry[2]);
    gid = Number(entry[3]);
  }
  if (entry) {
    home = entry[5] || '/';
    userName = entry[0];
  }
  if (groupPart !== undefined && groupPart !== '') {
    if (/^\d+$/.test(groupPart)) gid = Number(groupPart);
    else {
      const group = groups.find((g) => g[0] === groupPart);
      if (!group) throw new InvalidArgumentError(`unable to find group ${groupPart}: no matching entries in the image's /etc/group`);
      gid = Number(group[2]);
    }
  }
  const additionalGids = userName
    ? groups.filter((g) => (g[3] ?? '').split(',').includes(userName as string)).map((g) => Number(g[2])).filter((g) => g !== gid)
    : [];
  if (uid > 0xfffffffe || gid > 0xfffffffe) throw new InvalidArgumentError(`user ${spec}: id out of range`);
  return { uid, gid, additionalGids, home };
}

export async function readFileFromLayers(layerDirs: readonly string[], path: string): Promise<string | undefined> {
  const found = await findInLayers(layerDirs, path);
  return found ? readFile(found, 'utf8').catch(() => undefined) : undefined;
}
