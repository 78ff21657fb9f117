import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { Instruction } from '@muelle/dockerfile';
import type { StepInput, StepPlan } from '../build-session';
import { mkdirInRoot, resolveInRoot } from '../fs-tree';
import { changeFiles } from '../layers';
import { unlessAbsent } from '@muelle/service-kit';

/** WORKDIR: sets the config and makes the directory when the parent's file system lacks it (no layer otherwise). */
export function workdir({ ins, state, parent, session }: StepInput<Extract<Instruction, { kind: 'WORKDIR' }>>): StepPlan {
  const e = session.expand(ins, state);
  const dir = path.posix.resolve(state.config.WorkingDir || '/', e.path);
  state.config.WorkingDir = dir;
  return {
    descriptor: { WORKDIR: dir, user: state.config.User ?? '' },
    createdBy: `WORKDIR ${dir}`,
    fsStep: async () => {
      const lower = await session.deps.store.snapshot(parent.layers);
      const existing = await unlessAbsent(fs.lstat(await resolveInRoot(lower, dir)), undefined);
      if (existing?.isDirectory()) return undefined;
      return changeFiles(session, parent, async (root) => {
        await mkdirInRoot(root, dir);
      });
    },
  };
}
