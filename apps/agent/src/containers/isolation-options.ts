import { InvalidArgumentError, type ContainerSpec } from '@muelle/contracts';
import { effectiveCapabilities, InvalidSpecError, type ContainerProcessSpec, type Rlimit, type RlimitName } from '@muelle/isolation';

/** What `ContainerSpec.security` turns into for the helper; the same for the container and every exec into it. */
export type IsolationOptions = Required<Pick<ContainerProcessSpec, 'capabilities' | 'seccomp' | 'rlimits' | 'readonlyRootfs'>>;

const DEFAULT_SECURITY: ContainerSpec['security'] = { readOnly: false, capAdd: [], capDrop: [], ulimits: [], seccomp: 'default' };

/**
 * Maps the container's security options to the isolation spec. Who may ask for what (capAdd,
 * unconfined) was decided before the request reached this host; here only the kernel facts are
 * checked, and anything the helper could not apply is refused with the option's name.
 */
export function isolationOptionsOf(spec: ContainerSpec): IsolationOptions {
  // Records written before the field existed have no `security`: they get Docker's defaults.
  const security = spec.security ?? DEFAULT_SECURITY;
  let capabilities: IsolationOptions['capabilities'];
  try {
    capabilities = effectiveCapabilities(security.capAdd, security.capDrop);
  } catch (error) {
    if (error instanceof InvalidSpecError) throw new InvalidArgumentError(`security.capAdd/capDrop: ${error.message}`);
    throw error;
  }
  const rlimits: Rlimit[] = security.ulimits.map((u) => {
    const soft = u.soft === -1 ? 'unlimited' : u.soft;
    const hard = u.hard === -1 ? 'unlimited' : u.hard;
    if (hard !== 'unlimited' && (soft === 'unlimited' || soft > hard)) {
      throw new InvalidArgumentError(`security.ulimits: ${u.name} soft limit ${u.soft} is above its hard limit ${u.hard}`);
    }
    return { type: u.name.toUpperCase() as RlimitName, soft, hard };
  });
  if (new Set(rlimits.map((r) => r.type)).size !== rlimits.length) throw new InvalidArgumentError('security.ulimits: a limit is given twice');
  return { capabilities, seccomp: security.seccomp, rlimits, readonlyRootfs: security.readOnly };
}
