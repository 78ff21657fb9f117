/* Shared by the helper's translation units: each returns 0 or -errno and fills `err` with why. */
#ifndef MUELLE_ISOLATE_H
#define MUELLE_ISOLATE_H
#include <stddef.h>

/* seccomp.c: a libseccomp filter compiled from the spec's seccomp_* lines (see ../README.md). */
struct muelle_seccomp_spec {
  char *default_action;           /* seccomp_default=; NULL = no filter (unconfined) */
  char **arches; int narches;     /* seccomp_arch= (the native one is always there) */
  char **rules; int nrules;       /* seccomp_rule=ACTION NAMES [INDEX:OP:VALUE[:VALUE2]]... */
};
/* Builds the filter (not loaded yet). `unknown` (may be NULL) is called for each syscall name
 * libseccomp does not know, which is skipped, as runc does. Returns the context or NULL. */
void *muelle_seccomp_compile(const struct muelle_seccomp_spec *spec, void (*unknown)(const char *name),
                             char *err, size_t errlen);
/* Loads it into the calling thread; after this only the allowed syscalls work. */
int muelle_seccomp_load(void *ctx);
/* Writes the compiled program (struct sock_filter[]) to fd. */
int muelle_seccomp_export(void *ctx, int fd);
/* Number of BPF instructions the filter compiles to (for `seccomp-check`). */
long muelle_seccomp_size(void *ctx);

/* device-filter.c: attaches a BPF_PROG_TYPE_CGROUP_DEVICE program built from v1-style rules
 * ("c 1:3 rwm", "b *:* m", "a"…) to a cgroup v2 directory: what the rules allow, nothing else. */
int muelle_attach_device_filter(const char *cgroup_dir, char *const *rules, int nrules, char *err, size_t errlen);

/* output-log.c: the container's output as records in <dir>/output.log (rotated), written by the
 * monitor itself so that nothing is lost while no agent runs. */
int muelle_output_open(const char *dir, unsigned long long max_bytes, int max_files);
/* Reads once from fd into a record of `stream` (1 stdout, 2 stderr): 1 moved data, 0 nothing now, -1 EOF. */
int muelle_output_pump(int fd, int stream);
int muelle_output_enabled(void);

#endif
