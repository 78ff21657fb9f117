import { InvalidArgumentError } from '@muelle/contracts';
import { readFileInRoot, type RootView } from './root-fs';

/** Largest /etc/passwd or /etc/group read from an image (real ones are a few KiB). */
export const MAX_ID_FILE_BYTES = 4 * 1024 * 1024;
const MAX_ID = 0xfffffffe;
const NUMERIC = /^\d+$/;

export interface ResolvedUser {
  uid: number;
  gid: number;
  /** Groups that list the user by name in /etc/group (only when no group was asked for, as runc). */
  additionalGids: number[];
  home: string;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

async function idFileLines(root: RootView, path: string): Promise<string[][]> {
  const bytes = await readFileInRoot(root, path, MAX_ID_FILE_BYTES);
  if (!bytes) return [];
  return bytes
    .toString('utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => line.split(':'));
}

/** The image's /etc/passwd entries (lines without numeric ids are skipped, as libc does). */
export async function readPasswd(root: RootView): Promise<PasswdEntry[]> {
  return (await idFileLines(root, '/etc/passwd'))
    .filter((f) => NUMERIC.test(f[2] ?? '') && NUMERIC.test(f[3] ?? ''))
    .map((f) => ({ name: f[0] as string, uid: Number(f[2]), gid: Number(f[3]), home: f[5] || '/' }));
}

export async function readGroups(root: RootView): Promise<GroupEntry[]> {
  return (await idFileLines(root, '/etc/group'))
    .filter((f) => NUMERIC.test(f[2] ?? ''))
    .map((f) => ({ name: f[0] as string, gid: Number(f[2]), members: (f[3] ?? '').split(',').filter(Boolean) }));
}

/** A group name or number → its gid (a name must exist in the image's /etc/group). */
export async function resolveGroup(root: RootView, group: string): Promise<number> {
  const entry = (await readGroups(root)).find((g) => g.name === group);
  if (entry) return checkId(entry.gid, group);
  if (NUMERIC.test(group)) return checkId(Number(group), group);
  throw new InvalidArgumentError(`unable to find group ${group}: no matching entries in the image's /etc/group`);
}

function checkId(id: number, spec: string): number {
  if (id > MAX_ID) throw new InvalidArgumentError(`user ${spec}: id out of range (0-${MAX_ID})`);
  return id;
}

/**
 * `user`, `uid`, `user:group` or `uid:gid` (a container's `--user`, an image's `USER`, a RUN
 * step's user) → ids, by runc's rules: a name is looked up first, then a number is taken as is;
 * an unknown number runs with gid 0 and home `/`; an unknown name fails. Reads the root's
 * /etc/passwd and /etc/group inside it (no symlink leads out, reads are size-capped).
 */
export async function resolveUser(root: RootView, spec: string | undefined): Promise<ResolvedUser> {
  const [userPart = '', groupPart] = (spec || '0').split(':', 2) as [string?, string?];
  if (userPart === '') throw new InvalidArgumentError(`user ${spec}: empty user name`);
  const passwd = await readPasswd(root);
  const entry = passwd.find((p) => p.name === userPart) ?? (NUMERIC.test(userPart) ? passwd.find((p) => p.uid === Number(userPart)) : undefined);
  if (!entry && !NUMERIC.test(userPart)) throw new InvalidArgumentError(`unable to find user ${userPart}: no matching entries in the image's /etc/passwd`);
  const uid = checkId(entry && entry.name === userPart ? entry.uid : Number(userPart), userPart);
  const home = entry?.home ?? '/';
  if (groupPart !== undefined && groupPart !== '') return { uid, gid: await resolveGroup(root, groupPart), additionalGids: [], home };
  const gid = checkId(entry?.gid ?? 0, userPart);
  const additionalGids = entry ? (await readGroups(root)).filter((g) => g.members.includes(entry.name) && g.gid !== gid).map((g) => g.gid) : [];
  return { uid, gid, additionalGids: [...new Set(additionalGids)], home };
}
