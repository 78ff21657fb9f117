import { constants } from 'node:os';
import { z } from 'zod';
import { InvalidSpecError } from '../errors';
import type { CapabilityName } from '../spec';
import defaultProfileJson from './default-profile.json';

/**
 * A seccomp profile as data (`default-profile.json`): a default action, the ABIs a host
 * architecture may use, and rules that allow (or answer with an errno) named syscalls, optionally
 * only when an argument matches, only with or without a capability, or only on one architecture.
 */
const SYSCALL_NAME = /^[a-z_][a-z0-9_]{0,63}$/;
const HostArchitecture = z.enum(['x86_64', 'aarch64']);
const Abi = z.enum(['x86_64', 'x86', 'x32', 'aarch64', 'arm']);
const ErrnoName = z.string().refine((n) => n in constants.errno, 'an errno name such as EPERM');
const Capability = z.string().regex(/^[A-Z][A-Z_]+$/, 'a capability name without CAP_');

const Action = z.discriminatedUnion('action', [
  z.object({ action: z.literal('allow') }).strict(),
  z.object({ action: z.literal('errno'), errno: ErrnoName }).strict(),
]);

const ArgCondition = z.union([
  z.object({ index: z.number().int().min(0).max(5), op: z.enum(['ne', 'lt', 'le', 'eq', 'ge', 'gt']), value: z.number().int().min(0).max(2 ** 53) }).strict(),
  z.object({ index: z.number().int().min(0).max(5), op: z.literal('masked_eq'), mask: z.number().int().min(0).max(2 ** 53), value: z.number().int().min(0).max(2 ** 53) }).strict(),
]);

const Rule = z
  .object({
    comment: z.string().optional(),
    syscalls: z.array(z.string().regex(SYSCALL_NAME, 'a syscall name')).min(1),
    action: z.enum(['allow', 'errno']),
    errno: ErrnoName.optional(),
    /** All must hold (libseccomp ANDs a rule's conditions); several rules for one syscall are ORed. */
    args: z.array(ArgCondition).max(6).optional(),
    ifCapability: Capability.optional(),
    unlessCapability: Capability.optional(),
    onlyArchitectures: z.array(HostArchitecture).min(1).optional(),
  })
  .strict()
  .refine((r) => (r.action === 'errno') === (r.errno !== undefined), 'errno is required with action "errno" and only there')
  .refine((r) => !(r.ifCapability && r.unlessCapability), 'ifCapability and unlessCapability exclude each other');

export const SeccompProfileSchema = z
  .object({
    comment: z.string().optional(),
    defaultAction: Action,
    architectures: z.record(HostArchitecture, z.array(Abi).min(1)),
    rules: z.array(Rule).min(1),
  })
  .strict();
export type SeccompProfile = z.infer<typeof SeccompProfileSchema>;
export type SeccompHostArchitecture = z.infer<typeof HostArchitecture>;

/** Validates a profile; throws InvalidSpecError naming the first problem. */
export function parseSeccompProfile(data: unknown): SeccompProfile {
  const result = SeccompProfileSchema.safeParse(data);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new InvalidSpecError(`invalid seccomp profile at ${issue?.path.join('.') || '(root)'}: ${issue?.message}`);
  }
  return result.data;
}

let defaultProfile: SeccompProfile | undefined;

/** The repository's default profile (Docker's default in effect), validated once. */
export function defaultSeccompProfile(): SeccompProfile {
  defaultProfile ??= parseSeccompProfile(defaultProfileJson);
  return defaultProfile;
}

/** Node's `process.arch` as the profile names it; other hosts have no profile and are refused. */
export function hostArchitecture(arch: string = process.arch): SeccompHostArchitecture {
  if (arch === 'x64') return 'x86_64';
  if (arch === 'arm64') return 'aarch64';
  throw new InvalidSpecError(`no seccomp profile for host architecture ${arch}`);
}

function actionText(action: 'allow' | 'errno', errno?: string): string {
  return action === 'allow' ? 'allow' : `errno:${constants.errno[errno as keyof typeof constants.errno]}`;
}

/**
 * The helper's `seccomp_*` spec lines for a process holding `capabilities` on `arch`: rules whose
 * capability or architecture condition does not hold are left out here, so the helper only
 * compiles what applies (libs/isolation/native/seccomp.c).
 */
export function seccompSpecLines(profile: SeccompProfile, capabilities: readonly CapabilityName[], arch: SeccompHostArchitecture): string[] {
  const abis = profile.architectures[arch];
  if (!abis) throw new InvalidSpecError(`the seccomp profile has no architectures for ${arch}`);
  const held = new Set<string>(capabilities);
  const d = profile.defaultAction;
  const lines = [`seccomp_default=${actionText(d.action, d.action === 'errno' ? d.errno : undefined)}`];
  for (const abi of abis) if (abi !== arch) lines.push(`seccomp_arch=${abi}`);
  for (const rule of profile.rules) {
    if (rule.ifCapability && !held.has(rule.ifCapability)) continue;
    if (rule.unlessCapability && held.has(rule.unlessCapability)) continue;
    if (rule.onlyArchitectures && !rule.onlyArchitectures.includes(arch)) continue;
    const args = (rule.args ?? []).map((a) => (a.op === 'masked_eq' ? `${a.index}:masked_eq:${a.mask}:${a.value}` : `${a.index}:${a.op}:${a.value}`));
    lines.push(`seccomp_rule=${[actionText(rule.action, rule.errno), rule.syscalls.join(','), ...args].join(' ')}`);
  }
  return lines;
}
