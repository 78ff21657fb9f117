import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { Instruction } from '@muelle/dockerfile';
import { directoryRoot, resolveUser, withDefaultPath, type ResolvedUser } from '@muelle/images';
import { DOCKER_DEFAULT_CAPABILITIES, type ContainerProcessSpec } from '@muelle/isolation';
import { commandArgs, type BuildSession, type StageState, type StepInput, type StepPlan } from '../build-session';
import { BuildFailedError } from '../errors';
import { layerFromUpperDir } from '../fs-tree';
import type { StoredLayer } from '../store';

const OUTPUT_CHUNK = 16 * 1024;
const LAST_OUTPUT_LINES = 20;

type Run = Extract<Instruction, { kind: 'RUN' }>;

export function run({ ins, index, state, parent, session }: StepInput<Run>): StepPlan {
  const args = runArgs(ins, state.shell);
  const env = withDefaultPath(state.scope.runEnv());
  const network = ins.network === 'host' && session.options.network === 'host' ? 'host' : session.options.network;
  const proxyEnv = Object.entries(state.scope.proxyEnv()).map(([k, v]) => `${k}=${v}`);
  return {
    descriptor: { RUN: args, env, user: state.config.User ?? '', cwd: state.config.WorkingDir || '/', network },
    createdBy: `RUN ${args.join(' ')} # buildkit`,
    fsStep: () => runOnOverlay(session, index, parent, state, args, [...env, ...proxyEnv], network),
  };
}

function runArgs(ins: Run, shell: string[]): string[] {
  if (ins.command.form === 'shell' && ins.heredocs.length > 0) {
    const only = /^\s*\d*<<-?\s*["']?([^"'\s]+)["']?\s*$/.exec(ins.command.command);
    const doc = ins.heredocs[0];
    if (only && ins.heredocs.length === 1 && doc && only[1] === doc.name) return [...shell, doc.content];
    throw BuildFailedError.of('dockerfile-syntax', `Dockerfile:${ins.line}: RUN with a heredoc is only supported as "RUN <<EOF" alone`, { line: ins.line });
  }
  return commandArgs(ins.command, shell);
}

/** USER of the stage → ids from the parent's file system, by the same rules as a container's user. */
async function runUser(session: BuildSession, parent: StageState, user: string | undefined): Promise<ResolvedUser> {
  if (!user) return { uid: 0, gid: 0, additionalGids: [], home: '/root' };
  try {
    return await resolveUser(directoryRoot(await session.deps.store.snapshot(parent.layers)), user);
  } catch (error) {
    throw BuildFailedError.of('run-failed', (error as Error).message);
  }
}

/**
 * RUN on an overlay: the parent's file system (RUN upper dirs stacked on a snapshot) as read-only
 * lower layers and a fresh upper dir, mounted by the helper inside the RUN container's own mount
 * namespace. The layer is read from the upper dir; nothing is copied or diffed, and the upper dir
 * is kept as a lower layer for the following RUN steps.
 */
async function runOnOverlay(session: BuildSession, index: number, parent: StageState, state: StageState, args: string[], env: string[], network: 'none' | 'host'): Promise<StoredLayer | undefined> {
  const { store } = session.deps;
  const lowerDirs = await store.lowerDirs(parent.layers);
  const scratch = await store.workDir();
  const [upper, work, root] = ['upper', 'work', 'root'].map((d) => path.join(scratch, d)) as [string, string, string];
  try {
    for (const dir of [upper, work, root]) await fs.mkdir(dir);
    // The upper dir's own attributes become those of `/` in the overlay: keep the parent's.
    const rootStat = await fs.stat(lowerDirs.at(-1) as string);
    await fs.chmod(upper, rootStat.mode & 0o7777);
    await fs.chown(upper, rootStat.uid, rootStat.gid);
    const { uid, gid, additionalGids } = await runUser(session, parent, state.config.User);
    await runIsolated(session, index, state, args, env, network, { rootfs: root, overlay: { lowerDirs, upperDir: upper, workDir: work } }, { uid, gid, additionalGids });
    const opaque = new Set(await session.hostFs.opaqueDirectories(upper));
    const entries = await layerFromUpperDir(upper, opaque);
    if (entries.length === 0) return undefined;
    const layer = await store.writeLayer(entries, session.options.sourceDateEpoch, session.lease);
    await store.adoptDiff(upper, [...parent.layers, layer]);
    return layer;
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}

const describeRun = (args: string[]) => `the command '${args.join(' ')}'`;

/** One RUN process with a container's isolation, its output streamed as progress; fails the build on a non-zero exit. */
async function runIsolated(
  session: BuildSession,
  index: number,
  state: StageState,
  args: string[],
  env: string[],
  network: 'none' | 'host',
  root: Pick<ContainerProcessSpec, 'rootfs' | 'overlay'>,
  user: ContainerProcessSpec['user'],
): Promise<void> {
  const cgroupId = session.nextRunCgroup();
  const { cgroups, isolation } = session.deps;
  if (cgroups) await cgroups.create(cgroupId);
  const tail: string[] = [];
  let partial = '';
  const record = (stream: 'stdout' | 'stderr', chunk: Buffer) => {
    const text = chunk.toString('utf8');
    for (let offset = 0; offset < text.length; offset += OUTPUT_CHUNK) session.emit({ type: 'output', index, stream, data: text.slice(offset, offset + OUTPUT_CHUNK) });
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    tail.push(...lines);
    if (tail.length > LAST_OUTPUT_LINES) tail.splice(0, tail.length - LAST_OUTPUT_LINES);
  };
  try {
    const process = await isolation.run({
      ...root,
      args,
      env,
      cwd: state.config.WorkingDir || '/',
      user,
      hostname: 'buildkitsandbox',
      network: { mode: network },
      // Like a container: Docker's capabilities and seccomp filter; the device policy comes with the cgroup.
      capabilities: DOCKER_DEFAULT_CAPABILITIES,
      seccomp: 'default',
      cgroupPaths: cgroups ? cgroups.paths(cgroupId) : undefined,
      stdio: { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' },
    });
    const onAbort = () => process.signal('SIGKILL');
    session.signal.addEventListener('abort', onAbort);
    const drained = Promise.all([
      (async () => { for await (const c of process.stdout ?? []) record('stdout', c as Buffer); })(),
      (async () => { for await (const c of process.stderr ?? []) record('stderr', c as Buffer); })(),
    ]);
    const status = await process.wait();
    await drained;
    session.signal.removeEventListener('abort', onAbort);
    session.checkCancelled();
    if (partial) tail.push(partial);
    if (status.exitCode !== 0) {
      throw BuildFailedError.of('run-failed', `${describeRun(args)} returned a non-zero code: ${status.exitCode}${tail.length ? `\n${tail.slice(-5).join('\n')}` : ''}`, {
        exitCode: status.exitCode,
        lastOutput: tail.slice(-LAST_OUTPUT_LINES),
      });
    }
  } catch (error) {
    if (error instanceof BuildFailedError) throw error;
    throw BuildFailedError.of('run-failed', `${describeRun(args)} could not start: ${(error as Error).message}`, { exitCode: (error as { exitCode?: number }).exitCode });
  } finally {
    // The step's outcome is already decided; a cgroup that will not go is the host's to report, not the build's.
    if (cgroups) await cgroups.destroy(cgroupId).catch(() => undefined);
  }
}
