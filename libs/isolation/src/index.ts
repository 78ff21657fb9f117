export * from './errors';
export * from './spec';
export * from './isolation-driver';
export { LinuxIsolationDriver, type LinuxIsolationDriverOptions } from './linux-isolation-driver';
export { FakeIsolationDriver, FakeProcess } from './fake-isolation-driver';
export { helperPath, HELPER_PATH_ENV } from './helper-path';
export { parseStatusLine, StatusLineReader, type StatusEvent } from './status-protocol';
export * from './cgroups/cgroup-driver';
export { CgroupV1Driver, type CgroupV1Options } from './cgroups/cgroup-v1-driver';
export { CgroupV2Driver, type CgroupV2Options } from './cgroups/cgroup-v2-driver';
export { detectCgroupDriver, detectCgroupMode, CGROUP2_SUPER_MAGIC, type CgroupMode } from './cgroups/detect';
export { parseMountInfo, v1Hierarchies, type MountInfoEntry } from './cgroups/mountinfo';
export { HostFs, runHostCommand } from './host-ops';
export { ALL_CAPABILITIES, effectiveCapabilities } from './capabilities';
export {
  defaultSeccompProfile, hostArchitecture, parseSeccompProfile, seccompSpecLines, SeccompProfileSchema, type SeccompProfile,
} from './seccomp/profile';
export { DEFAULT_DEVICE_RULES } from './cgroups/devices';
export * from './output-log';
