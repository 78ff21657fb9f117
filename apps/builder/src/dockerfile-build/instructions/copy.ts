import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Instruction } from '@muelle/dockerfile';
import { directoryRoot, readPasswd, resolveGroup } from '@muelle/images';
import { applyLayer } from '@muelle/oci';
import type { BuildSession, StageState, StepInput, StepPlan } from '../build-session';
import { hashSources, SourceTree, type MatchedSource } from '../context';
import { BuildFailedError } from '../errors';
import { mkdirInRoot, resolveInRoot } from '../fs-tree';
import { changeFiles } from '../layers';
import { fetchChecked, UrlRefusedError } from '../url-fetch';
import { unlessAbsent } from '@muelle/service-kit';

type CopyInstruction = Extract<Instruction, { kind: 'COPY' | 'ADD' }>;
interface Download {
  url: string;
  file: string;
  mtime: Date;
}

/**
 * COPY and ADD: the sources are matched and hashed before the cache lookup (their content is part
 * of the key); the copy itself runs only on a miss.
 */
export async function copy({ ins, state, parent, session }: StepInput<CopyInstruction>): Promise<StepPlan> {
  const e = session.expand(ins, state);
  const line = e.line;
  const { tree, fromKey } = await sourceTree(session, e);
  const fromContext = fromKey === 'context';
  const matched: MatchedSource[] = [];
  const urls: Download[] = [];
  for (const source of e.sources) {
    if (e.kind === 'ADD' && /^https?:\/\//.test(source)) urls.push(await download(session, source, line));
    else matched.push(...(await tree.match(source, line)));
  }
  const urlHashes = await Promise.all(urls.map(async (u) => ({ url: u.url, sha: await fileSha(u.file) })));
  const contentHash = await hashSources(matched, !fromContext);
  const heredocs = e.heredocSources.map((h) => ({ name: h.name, content: h.content }));
  const describe = { from: fromKey, contentHash, urls: urlHashes, heredocs, sources: e.sources };
  return {
    descriptor: { [ins.kind]: describe, dest: e.destination, cwd: state.config.WorkingDir || '/', chown: e.chown ?? '', chmod: e.chmod ?? '' },
    createdBy: `${ins.kind} ${[...e.sources, ...e.heredocSources.map((h) => `<<${h.name}`)].join(' ')} ${e.destination} # buildkit`,
    fsStep: () => changeFiles(session, parent, (root) => copyInto(root, e, state, { matched, urls, heredocs, fromContext })),
  };
}

/** Where the sources come from: the context, a stage (`--from=<stage>`), or an image (`--from=<image>`). */
async function sourceTree(session: BuildSession, ins: CopyInstruction): Promise<{ tree: SourceTree; fromKey: string }> {
  const from = ins.kind === 'COPY' ? ins.from : undefined;
  if (from === undefined) return { tree: session.context, fromKey: 'context' };
  const stageState = session.stageFor(from);
  if (stageState) return { tree: SourceTree.filesystem(await session.deps.store.snapshot(stageState.layers)), fromKey: `stage:${stageState.key}` };
  session.emit({ type: 'pulling', reference: from });
  const image = await session.deps.images.pull(from, ins.line);
  return { tree: SourceTree.filesystem(await session.deps.store.snapshot(image.layers)), fromKey: `image:${image.manifestDigest}` };
}

type Attrs = { uid: number; gid: number; mode?: number; mtime?: Date; kind: 'file' | 'dir' | 'symlink' };

async function copyInto(
  root: string,
  ins: CopyInstruction,
  state: StageState,
  sources: { matched: MatchedSource[]; urls: Download[]; heredocs: Array<{ name: string; content: string }>; fromContext: boolean },
): Promise<void> {
  const { matched, urls, heredocs, fromContext } = sources;
  const line = ins.line;
  const owner = ins.chown ? await resolveOwner(root, ins.chown, line) : undefined;
  const chmod = ins.chmod ? parseChmod(ins.chmod, line) : undefined;
  const workdir = state.config.WorkingDir || '/';
  const dest = path.posix.resolve(workdir, ins.destination);
  const count = matched.length + urls.length + heredocs.length;
  const destHost = await resolveInRoot(root, dest);
  const destStat = await unlessAbsent(fs.lstat(destHost), undefined);
  const destIsDir = ins.destination.endsWith('/') || count > 1 || destStat?.isDirectory() === true || matched.some((m) => m.isDirectory);
  // Missing directories, as Docker's legacy builder makes them: a file (or URL, heredoc)
  // gives every directory it creates to --chown; a directory source creates them root-owned
  // and gives only a new destination to --chown; an archive ignores --chown.
  const makeFileParents = () => mkdirInRoot(root, destIsDir ? dest : path.posix.dirname(dest), owner);
  const makeDirectoryDestination = async () => {
    const existed = (await unlessAbsent(fs.lstat(await resolveInRoot(root, dest)), undefined))?.isDirectory() === true;
    const hostPath = await mkdirInRoot(root, dest);
    if (owner && !existed) await fs.lchown(hostPath, owner.uid, owner.gid);
  };

  // The parent is resolved inside the root; the final name is never followed: whatever is
  // there is replaced, except a directory receiving a directory.
  const place = async (target: string, make: (hostPath: string) => Promise<void>, attrs: Attrs) => {
    const parentHost = await resolveInRoot(root, path.posix.dirname(target));
    const hostPath = path.join(parentHost, path.posix.basename(target));
    const existing = await unlessAbsent(fs.lstat(hostPath), undefined);
    const keep = existing?.isDirectory() && attrs.kind === 'dir';
    if (existing && !keep) await fs.rm(hostPath, { recursive: true, force: true });
    if (!keep) await make(hostPath);
    await fs.lchown(hostPath, attrs.uid, attrs.gid);
    if (attrs.kind !== 'symlink' && attrs.mode !== undefined) await fs.chmod(hostPath, attrs.mode);
    if (attrs.mtime) await fs.lutimes(hostPath, attrs.mtime, attrs.mtime);
  };

  for (const source of matched) {
    const base = source.isDirectory ? dest : destIsDir ? path.posix.join(dest, source.name) : dest;
    // ADD of a local tar archive: extracted into the destination directory.
    if (ins.kind === 'ADD' && !source.isDirectory && ins.unpack !== false && (await isTarArchive(source.hostPath))) {
      const dir = await mkdirInRoot(root, dest);
      await applyLayer(dir, createReadStream(source.hostPath), { preserveOwnership: true });
      continue;
    }
    if (source.isDirectory) await makeDirectoryDestination();
    else await makeFileParents();
    for (const item of source.items) {
      if (source.isDirectory && item.relative === '') continue;
      const target = item.relative === '' ? base : path.posix.join(base, item.relative);
      const { stat } = item;
      const uid = owner?.uid ?? (fromContext ? 0 : stat.uid);
      const gid = owner?.gid ?? (fromContext ? 0 : stat.gid);
      const mode = chmod ?? stat.mode & 0o7777;
      if (stat.isDirectory()) {
        await place(target, (p) => fs.mkdir(p).then(() => undefined), { uid, gid, mode, mtime: stat.mtime, kind: 'dir' });
      } else if (stat.isSymbolicLink()) {
        const link = await fs.readlink(item.hostPath);
        await place(target, (p) => fs.symlink(link, p), { uid, gid, mtime: stat.mtime, kind: 'symlink' });
      } else if (stat.isFile()) {
        await place(target, (p) => fs.copyFile(item.hostPath, p), { uid, gid, mode, mtime: stat.mtime, kind: 'file' });
      }
    }
  }
  if (urls.length + heredocs.length > 0) await makeFileParents();
  for (const download of urls) {
    const name = path.posix.basename(new URL(download.url).pathname) || 'index.html';
    const target = destIsDir ? path.posix.join(dest, name) : dest;
    await place(target, (p) => fs.copyFile(download.file, p), { uid: owner?.uid ?? 0, gid: owner?.gid ?? 0, mode: chmod ?? 0o600, mtime: download.mtime, kind: 'file' });
  }
  for (const doc of heredocs) {
    const target = destIsDir ? path.posix.join(dest, doc.name) : dest;
    await place(target, (p) => fs.writeFile(p, doc.content), { uid: owner?.uid ?? 0, gid: owner?.gid ?? 0, mode: chmod ?? 0o644, kind: 'file' });
  }
}

async function download(session: BuildSession, url: string, line: number): Promise<Download> {
  const file = session.deps.store.tempPath('download');
  try {
    const response = await fetchChecked(url, session.deps.urlPolicy ?? { allowPrivateNetworks: false }, { signal: session.signal });
    await pipeline(response, createWriteStream(file));
    const lastModified = response.headers['last-modified'];
    const mtime = lastModified ? new Date(lastModified) : new Date(0);
    return { url, file, mtime: Number.isNaN(mtime.getTime()) ? new Date(0) : mtime };
  } catch (error) {
    if (error instanceof UrlRefusedError) throw BuildFailedError.of('url-refused', `Dockerfile:${line}: ADD ${error.message}`, { line });
    throw BuildFailedError.of('missing-source', `Dockerfile:${line}: ADD ${url} failed: ${(error as Error).message}`, { line });
  }
}

async function fileSha(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function isTarArchive(file: string): Promise<boolean> {
  const handle = await fs.open(file, 'r');
  try {
    const header = Buffer.alloc(512);
    const { bytesRead } = await handle.read(header, 0, 512, 0);
    if (bytesRead >= 2 && header[0] === 0x1f && header[1] === 0x8b) return true;
    return bytesRead >= 262 && header.subarray(257, 262).toString('latin1') === 'ustar';
  } finally {
    await handle.close();
  }
}

function parseChmod(text: string, line: number): number {
  if (!/^[0-7]{3,4}$/.test(text)) throw BuildFailedError.of('dockerfile-syntax', `Dockerfile:${line}: invalid --chmod=${text} (octal mode expected)`, { line });
  return parseInt(text, 8);
}

/** `--chown=user[:group]`: BuildKit's rule, not a container's: a user without a group gets the group whose id is the user's uid. */
async function resolveOwner(root: string, chown: string, line: number): Promise<{ uid: number; gid: number }> {
  const [user = '', group] = chown.split(':');
  const view = directoryRoot(root);
  try {
    let uid: number;
    if (/^\d+$/.test(user)) uid = Number(user);
    else {
      const entry = (await readPasswd(view)).find((p) => p.name === user);
      if (!entry) throw new Error(`unable to find user ${user}`);
      uid = entry.uid;
    }
    const gid = group === undefined ? uid : await resolveGroup(view, group);
    return { uid, gid };
  } catch (error) {
    throw BuildFailedError.of('missing-source', `Dockerfile:${line}: --chown=${chown}: ${(error as Error).message}`, { line });
  }
}
