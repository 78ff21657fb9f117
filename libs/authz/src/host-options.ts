import type { ContainerSpec, TeamPolicy } from '@muelle/contracts';
import { posix } from 'node:path';
import type { Subject } from './model';

/** One option of a container spec that the subject may not use; `option` is what the user typed. */
export interface HostOptionViolation {
  option: string;
  message: string;
}

/** Docker's "publish on every address" spellings; anything else is a chosen host IP. */
const ANY_ADDRESS = new Set(['', '0.0.0.0', '::']);
const FIRST_UNPRIVILEGED_PORT = 1024;

/**
 * The host-level options of `spec` that `subject` may not use under its team's `policy`.
 * Admins may use everything; members and viewers only what the policy grants. Pure: the caller
 * refuses the request (403) when the list is not empty. See SECURITY.md §3.
 */
export function hostOptionViolations(subject: Pick<Subject, 'role' | 'teamName'>, policy: TeamPolicy, spec: Pick<ContainerSpec, 'volumes' | 'network' | 'ports' | 'security'>): HostOptionViolation[] {
  if (subject.role === 'admin') return [];
  const team = subject.teamName ? `team ${subject.teamName}` : 'a user without a team';
  const violations: HostOptionViolation[] = [];
  const refuse = (option: string, what: string, granted: string) => violations.push({ option, message: `${what}: not allowed for ${team} (admin policy: ${granted})` });

  for (const volume of spec.volumes) {
    if (volume.kind !== 'bind') continue;
    // `..` after a symlink resolves on the host, not in the string: members write the path plainly.
    if (volume.source.split('/').some((segment) => segment === '..' || segment === '.')) {
      violations.push({ option: 'bind mount', message: `bind mount of ${volume.source}: write the host path without . or .. segments` });
      continue;
    }
    const source = normalizeHostPath(volume.source);
    const grants = policy.bindMounts.filter((grant) => isUnder(source, grant.path));
    const granted = describeBindGrants(policy);
    if (!grants.length) refuse('bind mount', `bind mount of ${source}`, granted);
    else if (!volume.readOnly && grants.every((grant) => grant.readOnly)) refuse('bind mount', `read-write bind mount of ${source}`, `${granted}; add :ro`);
  }
  if (spec.network === 'host' && !policy.hostNetwork) refuse('--network host', '--network host', 'host network not granted');
  for (const port of spec.ports) {
    const published = `-p ${port.hostIp}:${port.hostPort}:${port.containerPort}/${port.protocol}`;
    if (!ANY_ADDRESS.has(port.hostIp) && !policy.publishHostIp) refuse('publish host IP', `publishing on host IP ${port.hostIp} (${published})`, 'chosen host IPs not granted; omit the IP');
    if (port.hostPort > 0 && port.hostPort < FIRST_UNPRIVILEGED_PORT && !policy.privilegedPorts)
      refuse('privileged port', `publishing on host port ${port.hostPort} (${published})`, `host ports below ${FIRST_UNPRIVILEGED_PORT} not granted`);
  }
  const grantedCaps = new Set(policy.capAdd);
  for (const cap of spec.security.capAdd) {
    if (!grantedCaps.has(cap)) refuse('--cap-add', `--cap-add ${cap}`, grantedCaps.size ? `capabilities that may be added: ${[...grantedCaps].join(', ')}` : 'no capabilities may be added');
  }
  if (spec.security.seccomp === 'unconfined' && !policy.seccompUnconfined) refuse('--security-opt seccomp=unconfined', '--security-opt seccomp=unconfined', 'the default seccomp profile is required');
  // RLIMIT_RTPRIO lets processes without CAP_SYS_NICE use SCHED_FIFO/RR, which the cgroup CPU limits do not bound.
  const rtprio = spec.security.ulimits.find((u) => u.name === 'rtprio' && (u.soft !== 0 || u.hard !== 0));
  if (rtprio && !policy.realtimePriority) refuse('--ulimit rtprio', `--ulimit rtprio=${rtprio.soft}:${rtprio.hard}`, 'real-time priority not granted');
  return violations;
}

/** `/srv/x/../y/` → `/srv/y`: the path the kernel would bind (symlinks aside, see SECURITY.md §3). */
export function normalizeHostPath(path: string): string {
  const normalized = posix.normalize(posix.join('/', path));
  return normalized.length > 1 && normalized.endsWith('/') ? normalized.slice(0, -1) : normalized;
}

function isUnder(path: string, prefix: string): boolean {
  return prefix === '/' || path === prefix || path.startsWith(`${prefix}/`);
}

function describeBindGrants(policy: TeamPolicy): string {
  if (!policy.bindMounts.length) return 'no host paths may be bind-mounted';
  return `allowed prefixes ${policy.bindMounts.map((g) => `${g.path} (${g.readOnly ? 'ro' : 'rw'})`).join(', ')}`;
}
