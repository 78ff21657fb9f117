import { exposedPortKeys, parsePortSpec, type Instruction } from '@muelle/dockerfile';
import { commandArgs, type StepInput, type StepPlan } from '../build-session';
import { asBuildError } from '../errors';

type Of<K extends Instruction['kind']> = StepInput<Extract<Instruction, { kind: K }>>;

/**
 * Instructions that change only the image config. Their key still chains (every config field is in
 * the key), so a rebuild reuses their `created` and gives the same digest.
 */
export function env({ ins, state }: Of<'ENV'>): StepPlan {
  let pairs: Array<[string, string]>;
  try {
    pairs = state.scope.applyEnv(ins);
  } catch (error) {
    throw asBuildError(error);
  }
  state.config.Env = state.scope.imageEnv();
  return { descriptor: { ENV: pairs }, createdBy: `ENV ${pairs.map(([k, v]) => `${k}=${v}`).join(' ')}` };
}

export function arg({ ins, state }: Of<'ARG'>): StepPlan {
  try {
    state.scope.applyArg(ins);
  } catch (error) {
    throw asBuildError(error);
  }
  const values = ins.args.map((a) => [a.name, state.scope.lookup(a.name)]);
  return { descriptor: { ARG: values }, createdBy: `ARG ${values.map(([k, v]) => (v === undefined ? k : `${k}=${v}`)).join(' ')}` };
}

export function label({ ins, state, session }: Of<'LABEL'>): StepPlan {
  const e = session.expand(ins, state);
  state.config.Labels = { ...(state.config.Labels ?? {}) };
  for (const { key, value } of e.pairs) state.config.Labels[key] = value;
  return { descriptor: { LABEL: e.pairs }, createdBy: `LABEL ${e.pairs.map((p) => `${p.key}=${p.value}`).join(' ')}` };
}

export function maintainer({ ins, state }: Of<'MAINTAINER'>): StepPlan {
  state.base = { ...state.base, author: ins.maintainer };
  return { descriptor: { MAINTAINER: ins.maintainer }, createdBy: `MAINTAINER ${ins.maintainer}` };
}

export function expose({ ins, state, session }: Of<'EXPOSE'>): StepPlan {
  const e = session.expand(ins, state);
  state.config.ExposedPorts = { ...(state.config.ExposedPorts ?? {}) };
  for (const port of e.ports) for (const key of exposedPortKeys(parsePortSpec(port, ins.line))) state.config.ExposedPorts[key] = {};
  return { descriptor: { EXPOSE: e.ports }, createdBy: `EXPOSE map[${e.ports.map((p) => `${p.includes('/') ? p : `${p}/tcp`}:{}`).join(' ')}]` };
}

export function cmd({ ins, state }: Of<'CMD'>): StepPlan {
  state.config.Cmd = commandArgs(ins.command, state.shell);
  state.cmdSetInStage = true;
  return { descriptor: { CMD: state.config.Cmd }, createdBy: `CMD ${JSON.stringify(state.config.Cmd)}` };
}

export function entrypoint({ ins, state }: Of<'ENTRYPOINT'>): StepPlan {
  state.config.Entrypoint = commandArgs(ins.command, state.shell);
  // An ENTRYPOINT resets a CMD inherited from the base (not one set in this stage).
  if (!state.cmdSetInStage) state.config.Cmd = null;
  return { descriptor: { ENTRYPOINT: state.config.Entrypoint, cmd: state.config.Cmd }, createdBy: `ENTRYPOINT ${JSON.stringify(state.config.Entrypoint)}` };
}

export function shell({ ins, state }: Of<'SHELL'>): StepPlan {
  state.shell = ins.shell;
  state.config.Shell = ins.shell;
  return { descriptor: { SHELL: ins.shell }, createdBy: `SHELL ${JSON.stringify(ins.shell)}` };
}

export function user({ ins, state, session }: Of<'USER'>): StepPlan {
  const e = session.expand(ins, state);
  state.config.User = e.user;
  return { descriptor: { USER: e.user }, createdBy: `USER ${e.user}` };
}

export function volume({ ins, state, session }: Of<'VOLUME'>): StepPlan {
  const e = session.expand(ins, state);
  state.config.Volumes = { ...(state.config.Volumes ?? {}) };
  for (const dir of e.volumes) state.config.Volumes[dir] = {};
  return { descriptor: { VOLUME: e.volumes }, createdBy: `VOLUME ${JSON.stringify(e.volumes)}` };
}

export function stopSignal({ ins, state, session }: Of<'STOPSIGNAL'>): StepPlan {
  const e = session.expand(ins, state);
  state.config.StopSignal = e.signal;
  return { descriptor: { STOPSIGNAL: e.signal }, createdBy: `STOPSIGNAL ${e.signal}` };
}

export function healthcheck({ ins, state }: Of<'HEALTHCHECK'>): StepPlan {
  if (ins.type === 'NONE') state.config.Healthcheck = { Test: ['NONE'] };
  else {
    const o = ins.options;
    state.config.Healthcheck = {
      Test: ins.test,
      ...(o.intervalNs && { Interval: o.intervalNs }),
      ...(o.timeoutNs && { Timeout: o.timeoutNs }),
      ...(o.startPeriodNs && { StartPeriod: o.startPeriodNs }),
      ...(o.startIntervalNs && { StartInterval: o.startIntervalNs }),
      ...(o.retries && { Retries: o.retries }),
    };
  }
  return { descriptor: { HEALTHCHECK: state.config.Healthcheck }, createdBy: `HEALTHCHECK ${JSON.stringify(state.config.Healthcheck)}` };
}

export function onBuild({ ins, state }: Of<'ONBUILD'>): StepPlan {
  state.config.OnBuild = [...(state.config.OnBuild ?? []), ins.expression];
  return { descriptor: { ONBUILD: ins.expression }, createdBy: `ONBUILD ${ins.expression}` };
}
