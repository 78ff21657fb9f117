/*
 * cgroup v2 has no devices.allow file: the kernel asks a BPF_PROG_TYPE_CGROUP_DEVICE program
 * attached to the cgroup instead (runc and crun do the same). The program is assembled here from
 * the same v1-style rules the v1 driver writes to devices.allow, so both drivers enforce one list:
 *
 *   r2 = ctx->access_type; r3 = r2 & 0xffff (type); r2 >>= 16 (access); r4 = major; r5 = minor
 *   per rule:  if type/major/minor differ -> next rule
 *              if (access & ~rule_access) != 0 -> next rule
 *              return 1 (allow)
 *   return 0 (EPERM)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "isolate.h"

#define MAX_INSNS 512

struct program { struct bpf_insn insns[MAX_INSNS]; int n; };

static void emit(struct program *p, uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  if (p->n >= MAX_INSNS) { p->n = MAX_INSNS + 1; return; }
  p->insns[p->n++] = (struct bpf_insn){ .code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm };
}

/* v1 syntax: "a" | "<c|b|a> <major|*>:<minor|*> <r|w|m>+" */
struct rule { int type; long major, minor; int access; };

static int parse_rule(const char *text, struct rule *r) {
  char type, majs[16], mins[16], acc[8];
  if (!strcmp(text, "a")) { *r = (struct rule){ 0, -1, -1, BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE }; return 0; }
  if (sscanf(text, "%c %15[0-9*]:%15[0-9*] %7s", &type, majs, mins, acc) != 4) return -1;
  r->type = type == 'c' ? BPF_DEVCG_DEV_CHAR : type == 'b' ? BPF_DEVCG_DEV_BLOCK : type == 'a' ? 0 : -1;
  if (r->type < 0) return -1;
  r->major = strcmp(majs, "*") ? strtol(majs, NULL, 10) : -1;
  r->minor = strcmp(mins, "*") ? strtol(mins, NULL, 10) : -1;
  r->access = 0;
  for (const char *c = acc; *c; c++) {
    if (*c == 'r') r->access |= BPF_DEVCG_ACC_READ;
    else if (*c == 'w') r->access |= BPF_DEVCG_ACC_WRITE;
    else if (*c == 'm') r->access |= BPF_DEVCG_ACC_MKNOD;
    else return -1;
  }
  return r->access ? 0 : -1;
}

/* One rule: a block of conditional jumps to its own end, then "return 1". */
static void emit_rule(struct program *p, const struct rule *r) {
  int jumps[4], njumps = 0;
  if (r->type) { jumps[njumps++] = p->n; emit(p, BPF_JMP | BPF_JNE | BPF_K, 3, 0, 0, r->type); }
  if (r->major >= 0) { jumps[njumps++] = p->n; emit(p, BPF_JMP | BPF_JNE | BPF_K, 4, 0, 0, (int32_t)r->major); }
  if (r->minor >= 0) { jumps[njumps++] = p->n; emit(p, BPF_JMP | BPF_JNE | BPF_K, 5, 0, 0, (int32_t)r->minor); }
  emit(p, BPF_ALU64 | BPF_MOV | BPF_X, 6, 2, 0, 0);                     /* r6 = access */
  emit(p, BPF_ALU64 | BPF_AND | BPF_K, 6, 0, 0, ~r->access & 7);         /* bits the rule does not grant */
  jumps[njumps++] = p->n;
  emit(p, BPF_JMP | BPF_JNE | BPF_K, 6, 0, 0, 0);
  emit(p, BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 1);
  emit(p, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
  if (p->n > MAX_INSNS) return;
  for (int i = 0; i < njumps; i++) p->insns[jumps[i]].off = (int16_t)(p->n - jumps[i] - 1);
}

static int build(struct program *p, char *const *rules, int nrules, char *err, size_t errlen) {
  p->n = 0;
  emit(p, BPF_LDX | BPF_MEM | BPF_W, 2, 1, (int16_t)offsetof(struct bpf_cgroup_dev_ctx, access_type), 0);
  emit(p, BPF_ALU64 | BPF_MOV | BPF_X, 3, 2, 0, 0);
  emit(p, BPF_ALU64 | BPF_AND | BPF_K, 3, 0, 0, 0xffff);
  emit(p, BPF_ALU64 | BPF_RSH | BPF_K, 2, 0, 0, 16);
  emit(p, BPF_LDX | BPF_MEM | BPF_W, 4, 1, (int16_t)offsetof(struct bpf_cgroup_dev_ctx, major), 0);
  emit(p, BPF_LDX | BPF_MEM | BPF_W, 5, 1, (int16_t)offsetof(struct bpf_cgroup_dev_ctx, minor), 0);
  for (int i = 0; i < nrules; i++) {
    struct rule r;
    if (parse_rule(rules[i], &r) < 0) { snprintf(err, errlen, "bad device rule '%.80s'", rules[i]); return -EINVAL; }
    emit_rule(p, &r);
  }
  emit(p, BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0);
  emit(p, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
  if (p->n > MAX_INSNS) { snprintf(err, errlen, "too many device rules"); return -E2BIG; }
  return 0;
}

int muelle_attach_device_filter(const char *cgroup_dir, char *const *rules, int nrules, char *err, size_t errlen) {
  static struct program prog;
  static char log[65536];
  int rc = build(&prog, rules, nrules, err, errlen);
  if (rc < 0) return rc;
  int cg = open(cgroup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cg < 0) { rc = -errno; snprintf(err, errlen, "open %s: %s", cgroup_dir, strerror(errno)); return rc; }
  union bpf_attr load;
  memset(&load, 0, sizeof load);
  load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  load.insns = (uint64_t)(uintptr_t)prog.insns;
  load.insn_cnt = (uint32_t)prog.n;
  load.license = (uint64_t)(uintptr_t)"Apache";
  int fd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof load);
  if (fd < 0) {
    /* Load again with the verifier's log, only to say why. */
    load.log_buf = (uint64_t)(uintptr_t)log;
    load.log_size = sizeof log;
    load.log_level = 1;
    if ((fd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof load)) >= 0) close(fd);
    errno = fd >= 0 ? EAGAIN : errno;
  }
  if (fd < 0) {
    rc = -errno;
    snprintf(err, errlen, "load device program: %s %.300s", strerror(errno), log);
    close(cg);
    return rc;
  }
  union bpf_attr attach;
  memset(&attach, 0, sizeof attach);
  attach.target_fd = (uint32_t)cg;
  attach.attach_bpf_fd = (uint32_t)fd;
  attach.attach_type = BPF_CGROUP_DEVICE;
  /* ALLOW_MULTI: programs of parent cgroups keep running too; every one must allow. */
  attach.attach_flags = BPF_F_ALLOW_MULTI;
  rc = (int)syscall(SYS_bpf, BPF_PROG_ATTACH, &attach, sizeof attach);
  if (rc < 0) { rc = -errno; snprintf(err, errlen, "attach device program to %s: %s", cgroup_dir, strerror(errno)); }
  /* The attachment holds its own reference: the program stays until the cgroup is removed. */
  close(fd);
  close(cg);
  return rc < 0 ? rc : 0;
}
