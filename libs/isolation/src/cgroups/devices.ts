/**
 * Docker's default device policy in cgroup v1 syntax (`type major:minor access`): creating any
 * node is allowed (`m`, so images can carry device files and `mknod` works), but only these nodes
 * may be opened (`rw`). Everything else, e.g. a host disk made with `mknod /dev/l0 b 7 0`, gets
 * EPERM on open. v1 writes these lines to `devices.allow` after `devices.deny a`; v2 compiles the
 * same lines into an eBPF device program (native/device-filter.c).
 */
export const DEFAULT_DEVICE_RULES: readonly string[] = [
  'c *:* m',
  'b *:* m',
  'c 1:3 rwm', // null
  'c 1:5 rwm', // zero
  'c 1:7 rwm', // full
  'c 1:8 rwm', // random
  'c 1:9 rwm', // urandom
  'c 5:0 rwm', // tty
  'c 5:1 rwm', // console
  'c 5:2 rwm', // ptmx
  'c 136:* rwm', // pts/*
];
