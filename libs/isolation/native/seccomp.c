/*
 * The container's seccomp filter, compiled with libseccomp from rule lines the TypeScript side
 * resolved out of the profile (libs/isolation/src/seccomp/default-profile.json): capabilities and
 * the host architecture are already applied there, so this file only turns lines into a filter.
 *
 *   seccomp_default=errno:1                        action for every syscall no rule matches
 *   seccomp_arch=x86                               extra ABI (the native one is implicit)
 *   seccomp_rule=allow read,write,openat           unconditional rule for these syscalls
 *   seccomp_rule=allow clone 0:masked_eq:2114060288:0   with argument conditions (all must hold)
 *   seccomp_rule=errno:38 clone3
 * The helper's `seccomp-bpf` mode exports the compiled program, which the TypeScript driver then
 * hands to later starts as `seccomp_bpf=` so the compile runs once per rule set.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "isolate.h"

#define MAX_ARGS 6

static void set_err(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

static int parse_action(const char *text, uint32_t *action) {
  if (!strcmp(text, "allow")) { *action = SCMP_ACT_ALLOW; return 0; }
  if (!strncmp(text, "errno:", 6)) {
    char *end;
    long n = strtol(text + 6, &end, 10);
    if (*end || end == text + 6 || n < 0 || n > 4095) return -1;
    *action = SCMP_ACT_ERRNO((uint16_t)n);
    return 0;
  }
  return -1;
}

static int parse_op(const char *text, enum scmp_compare *op) {
  static const struct { const char *name; enum scmp_compare op; } ops[] = {
    {"ne", SCMP_CMP_NE}, {"lt", SCMP_CMP_LT}, {"le", SCMP_CMP_LE}, {"eq", SCMP_CMP_EQ},
    {"ge", SCMP_CMP_GE}, {"gt", SCMP_CMP_GT}, {"masked_eq", SCMP_CMP_MASKED_EQ},
  };
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
    if (!strcmp(ops[i].name, text)) { *op = ops[i].op; return 0; }
  return -1;
}

static int parse_u64(const char *text, scmp_datum_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(text, &end, 10);
  if (errno || end == text || *end) return -1;
  *out = (scmp_datum_t)v;
  return 0;
}

/* "INDEX:OP:A[:B]": for masked_eq A is the mask and B the value, like scmp_arg_cmp. */
static int parse_arg(char *text, struct scmp_arg_cmp *arg) {
  char *fields[4] = {0};
  int n = 0;
  for (char *tok = strtok(text, ":"); tok && n < 4; tok = strtok(NULL, ":")) fields[n++] = tok;
  scmp_datum_t index;
  memset(arg, 0, sizeof *arg);
  if (n < 3 || parse_u64(fields[0], &index) || index > 5 || parse_op(fields[1], &arg->op)) return -1;
  arg->arg = (unsigned)index;
  if (parse_u64(fields[2], &arg->datum_a)) return -1;
  if (arg->op == SCMP_CMP_MASKED_EQ) return n == 4 && !parse_u64(fields[3], &arg->datum_b) ? 0 : -1;
  return n == 3 ? 0 : -1;
}

static int add_rule(scmp_filter_ctx ctx, uint32_t default_action, const char *line,
                    void (*unknown)(const char *), char *err, size_t errlen) {
  char *copy = strdup(line), *save = NULL;
  if (!copy) return -ENOMEM;
  char *action_text = strtok_r(copy, " ", &save), *names = strtok_r(NULL, " ", &save);
  uint32_t action;
  struct scmp_arg_cmp args[MAX_ARGS];
  unsigned nargs = 0;
  int rc = 0;
  if (!action_text || !names || parse_action(action_text, &action)) {
    set_err(err, errlen, "bad seccomp rule '%.200s'", line);
    rc = -EINVAL;
    goto out;
  }
  for (char *a = strtok_r(NULL, " ", &save); a; a = strtok_r(NULL, " ", &save)) {
    char argcopy[128];
    snprintf(argcopy, sizeof argcopy, "%s", a);
    if (nargs == MAX_ARGS || parse_arg(argcopy, &args[nargs]) < 0) {
      set_err(err, errlen, "bad seccomp argument '%.60s' in '%.200s'", a, line);
      rc = -EINVAL;
      goto out;
    }
    nargs++;
  }
  /* A rule whose action is the default changes nothing; libseccomp refuses it, so skip it. */
  if (action == default_action) goto out;
  for (char *name = strtok_r(names, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) {
      if (unknown) unknown(name);
      continue;
    }
    rc = seccomp_rule_add_array(ctx, action, nr, nargs, args);
    if (rc < 0) {
      set_err(err, errlen, "seccomp rule for %s: %s", name, strerror(-rc));
      goto out;
    }
  }
out:
  free(copy);
  return rc;
}

void *muelle_seccomp_compile(const struct muelle_seccomp_spec *spec, void (*unknown)(const char *name),
                             char *err, size_t errlen) {
  uint32_t default_action;
  if (!spec->default_action || parse_action(spec->default_action, &default_action)) {
    set_err(err, errlen, "bad seccomp_default '%s'", spec->default_action ? spec->default_action : "");
    return NULL;
  }
  scmp_filter_ctx ctx = seccomp_init(default_action);
  if (!ctx) { set_err(err, errlen, "seccomp_init failed"); return NULL; }
  /* The helper sets no_new_privs itself (or loads the filter while it still holds CAP_SYS_ADMIN). */
  int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
  /* A binary tree of syscall numbers instead of a linear list: each syscall walks ~10 jumps, not ~350. */
  if (rc == 0) rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
  for (int i = 0; rc == 0 && i < spec->narches; i++) {
    uint32_t arch = seccomp_arch_resolve_name(spec->arches[i]);
    if (!arch) { set_err(err, errlen, "unknown seccomp architecture '%s'", spec->arches[i]); goto fail; }
    rc = seccomp_arch_add(ctx, arch);
    if (rc == -EEXIST) rc = 0;   /* the native architecture is already in */
  }
  if (rc < 0) { set_err(err, errlen, "seccomp architectures: %s", strerror(-rc)); goto fail; }
  for (int i = 0; i < spec->nrules; i++)
    if (add_rule(ctx, default_action, spec->rules[i], unknown, err, errlen) < 0) goto fail;
  return ctx;
fail:
  seccomp_release(ctx);
  return NULL;
}

int muelle_seccomp_load(void *ctx) {
  return seccomp_load((scmp_filter_ctx)ctx);
}

int muelle_seccomp_export(void *ctx, int fd) {
  return seccomp_export_bpf((scmp_filter_ctx)ctx, fd);
}

long muelle_seccomp_size(void *ctx) {
  int fd = memfd_create("seccomp-bpf", MFD_CLOEXEC);
  if (fd < 0) return -errno;
  int rc = seccomp_export_bpf((scmp_filter_ctx)ctx, fd);
  off_t size = rc < 0 ? rc : lseek(fd, 0, SEEK_END);
  close(fd);
  return size < 0 ? (long)size : (long)(size / 8);   /* struct sock_filter is 8 bytes */
}
