import { createReadStream, createWriteStream, existsSync, lstatSync, mkdirSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Command } from 'commander';
import type { ApiClient } from '../client';
import type { Io } from '../commands';
import { CliError } from '../errors';
import { extractLocal, lastComponent, packLocal, parentOf } from '../copy-tar';
import { apiClient } from './common';

const archivePath = (ref: string) => `/v1/containers/${encodeURIComponent(ref)}/archive`;

/** `CONTAINER:PATH` → its parts (a container path is absolute from the container's root); a local path → undefined. */
export function containerPathOf(arg: string): { container: string; path: string } | undefined {
  const colon = arg.indexOf(':');
  // `./a:b` and `/a:b` are local paths, as with Docker's CLI.
  if (colon <= 0 || arg.startsWith('.') || arg.startsWith('/')) return undefined;
  const path = arg.slice(colon + 1) || '/';
  return { container: arg.slice(0, colon), path: path.startsWith('/') ? path : `/${path}` };
}

/** The container path's stat, or undefined when it does not exist. */
async function statIn(api: ApiClient, container: string, path: string): Promise<{ mode: number } | undefined> {
  try {
    return await api.request('GET', `${archivePath(container)}/stat`, { query: { path } });
  } catch (error) {
    if (error instanceof CliError && /no such (file|directory)/.test(error.message)) return undefined;
    throw error;
  }
}

const isDirMode = (mode: number) => mode >= 2 ** 31;

/** `muelle cp`: files between a container (running or stopped) and this machine, as `docker cp`. */
export function registerCopyCommand(program: Command, io: Io): void {
  program
    .command('cp')
    .description('Copy files between a container and the local file system (- for a tar on stdin/stdout)')
    .argument('<src>', 'CONTAINER:SRC_PATH, a local path, or -')
    .argument('<dest>', 'CONTAINER:DEST_PATH, a local path, or -')
    .option('-a, --archive', "owner of the copied files: the container's user (copying in)")
    .action(async (src: string, dest: string, o: { archive?: boolean }) => {
      const from = containerPathOf(src);
      const to = containerPathOf(dest);
      if (from && to) throw new CliError('copying between containers is not supported');
      if (!from && !to) throw new CliError('must specify at least one container source');
      if (from) await copyOut(apiClient(), io, from, dest);
      else await copyIn(apiClient(), src, to as { container: string; path: string }, !!o.archive);
    });
}

async function copyOut(api: ApiClient, io: Io, from: { container: string; path: string }, dest: string): Promise<void> {
  const contents = from.path.endsWith('/.');
  const existing = dest === '-' ? undefined : existsSync(dest) ? lstatSync(dest) : undefined;
  if (dest !== '-' && !existing && !existsSync(parentOf(dest))) throw new CliError(`the destination directory ${parentOf(dest)} does not exist`);
  const response = await api.send('GET', archivePath(from.container), { query: { path: from.path }, accept: 'application/x-tar' });
  const body = response.body;
  if (dest === '-') return pipeline(body, io.out as NodeJS.WritableStream);
  const stat = JSON.parse(Buffer.from(String(response.body.headers['x-docker-container-path-stat'] ?? ''), 'base64').toString('utf8') || '{}') as { mode?: number };
  const sourceIsDir = isDirMode(stat.mode ?? 0);
  if (existing?.isDirectory()) return extractLocal(body, dest, undefined);
  if (existing && sourceIsDir) throw new CliError(`cannot copy a directory to the file ${dest}`);
  if (contents) {
    mkdirSync(dest);
    return extractLocal(body, dest);
  }
  await extractLocal(body, parentOf(dest), lastComponent(dest));
}

async function copyIn(api: ApiClient, src: string, to: { container: string; path: string }, archive: boolean): Promise<void> {
  const query = { noOverwriteDirNonDir: true, copyUIDGID: archive };
  if (src === '-') {
    await api.send('PUT', archivePath(to.container), { raw: process.stdin, query: { ...query, path: to.path } });
    return;
  }
  if (!existsSync(src)) throw new CliError(`lstat ${src}: no such file or directory`);
  const sourceIsDir = lstatSync(src).isDirectory();
  const contents = src.endsWith('/.');
  const target = await statIn(api, to.container, to.path);
  let dir: string;
  let topName: string;
  if (target && isDirMode(target.mode)) {
    dir = to.path;
    topName = contents ? '.' : lastComponent(src);
  } else {
    if (!target && to.path.endsWith('/')) throw new CliError(`no such directory: ${to.container}:${to.path}`);
    if (target && sourceIsDir) throw new CliError(`cannot copy a directory to the file ${to.container}:${to.path}`);
    dir = parentOf(to.path);
    topName = lastComponent(to.path);
  }
  await api.send('PUT', archivePath(to.container), { raw: await packLocal(contents ? src.slice(0, -2) || '/' : src, topName), query: { ...query, path: dir } });
}

/** `muelle save`: images of Muelle's registry as a docker-archive tar (`docker load` takes it). */
export function registerSaveCommand(program: Command, io: Io): void {
  program
    .command('save')
    .description('Save images to a tar archive (docker-archive, streamed to stdout by default)')
    .argument('<images...>')
    .option('-o, --output <file>', 'write to a file instead of stdout')
    .action(async (images: string[], o: { output?: string }) => {
      if (!o.output && io.out.isTTY) throw new CliError('cowardly refusing to save to a terminal. Use the -o flag or redirect');
      const response = await apiClient().send('GET', '/v1/images/save', { query: { image: images }, accept: 'application/x-tar' });
      const body = response.body;
      await pipeline(body, o.output ? createWriteStream(o.output) : (io.out as NodeJS.WritableStream));
    });
}

/** `muelle load`: a docker-archive tar (docker save's, or muelle save's) into Muelle's registry. */
export function registerLoadCommand(program: Command, io: Io): void {
  program
    .command('load')
    .description('Load images from a tar archive (docker-archive) into the registry')
    .option('-i, --input <file>', 'read from a file instead of stdin')
    .option('-q, --quiet', 'print nothing')
    .action(async (o: { input?: string; quiet?: boolean }) => {
      if (!o.input && process.stdin.isTTY) throw new CliError('requested load from stdin, but stdin is empty');
      if (o.input && !existsSync(o.input)) throw new CliError(`open ${o.input}: no such file or directory`);
      const body = o.input ? createReadStream(o.input) : process.stdin;
      const response = await apiClient().send('POST', '/v1/images/load', { raw: body });
      const { loaded } = JSON.parse(await response.text()) as { loaded: string[] };
      if (!o.quiet) for (const line of loaded) io.out.write(`${line}\n`);
    });
}

/** `muelle export`: a container's whole file system as a tar (running or stopped). */
export function registerExportCommand(program: Command, io: Io): void {
  program
    .command('export')
    .description("Export a container's file system as a tar archive (to stdout by default)")
    .argument('<container>')
    .option('-o, --output <file>', 'write to a file instead of stdout')
    .action(async (ref: string, o: { output?: string }) => {
      if (!o.output && io.out.isTTY) throw new CliError('cowardly refusing to save to a terminal. Use the -o flag or redirect');
      const response = await apiClient().send('GET', archivePath(ref), { query: { path: '/.' }, accept: 'application/x-tar' });
      const body = response.body;
      await pipeline(body, o.output ? createWriteStream(o.output) : (io.out as NodeJS.WritableStream));
    });
}
