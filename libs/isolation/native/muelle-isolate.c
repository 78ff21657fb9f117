/*
 * muelle-isolate: single-threaded helper that creates (run) or joins (exec) a container.
 *
 * Node cannot unshare()/setns() itself (it is multi-threaded), so the agent execs this
 * helper once per container or exec session. libc, kernel headers and libseccomp
 * (seccomp.c); the cgroup v2 device program is in device-filter.c.
 *
 *   muelle-isolate run|exec [--spec-fd N | --spec PATH] [--status-fd N] [--control-fd N]
 *                  [--exit-file PATH] [--log-dir DIR --log-max-bytes N --log-max-files N]
 *                  [--stdin-hold FIFO]
 *
 * Detached containers (run with --exit-file) outlive the agent: with --log-dir the monitor reads
 * the workload's stdout and stderr itself and appends them to DIR/output.log (output-log.c), and
 * at the end writes the exit record `{"exitCode","signal","startedAt","finishedAt"}` to the
 * exit file, after the output was drained. --stdin-hold keeps a write end of the stdin FIFO open
 * (the workload sees no EOF while no agent holds one) until the control line `close-stdin`.
 *
 * Spec: one `key=value` per line; repeated keys build arrays; in values `\n` is a newline
 * and `\\` a backslash. Keys are listed in ../README.md.
 *
 * Status lines written to the status fd (default 2):
 *   pid <host pid>                       container init (run) / exec'd process (exec)
 *   started                              the workload's execve succeeded
 *   error <stage> <errno> <message>      setup failed; the helper exits 125, 126 or 127
 *   exit <code> <signal>                 workload finished (signal 0 = exited normally)
 * Control lines read from the control fd: `start` (with wait_start=1), `resize <rows> <cols>`,
 * `close-stdin`.
 *
 * Process layout for `run`:
 *   H (this process, host namespaces) --clone(NEWNS|NEWPID|NEWUTS|NEWIPC[|NEWNET])--> C
 *   C = PID 1 of the container: joins nothing itself; H writes C's pid into the cgroups,
 *       then releases C, which unshares the cgroup namespace, builds the root, forks W,
 *       and then forwards signals to W and reaps zombies until W exits.
 *   W = the workload: drops privileges and execs the entrypoint.
 *   H relays the pty (pty=1), applies resizes and reports the exit status.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <arpa/inet.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/route.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include "isolate.h"

#define EXIT_SETUP 125
#define EXIT_CANNOT_INVOKE 126
#define EXIT_NOT_FOUND 127
#define DEVPTS_MAGIC 0x1cd1
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* ---------- spec ---------- */

struct bind_mount { char *src, *dst; int readonly; };
struct rlimit_entry { int resource; struct rlimit value; };

struct spec {
  char *root, *cwd, *hostname, *netns_path;
  int netns_host, tty, pty, no_new_privs, readonly_root, wait_start, init;
  /* overlay root built inside the container's mount namespace (nothing mounted on the host) */
  char **lowers; int nlowers;
  char *upper, *work;
  /* bridge networking: veth made by the outer helper over netlink, addressed by the container */
  char *veth_host, *bridge, *mac, *addr, *gateway;
  uint32_t mtu; /* 0: the kernel's default; lower on overlay networks (VXLAN's 50 bytes) */
  unsigned short rows, cols;
  uid_t uid; gid_t gid;
  uint64_t caps;
  pid_t target_pid;
  char **argv; int argc;
  char **env; int envc;
  gid_t *groups; int ngroups;
  char **cgroups; int ncgroups;
  struct bind_mount *binds; int nbinds;
  struct rlimit_entry *rlimits; int nrlimits;
  struct muelle_seccomp_spec seccomp;
  void *seccomp_filter;   /* compiled by H before anything is created; loaded by W before exec */
  char *seccomp_bpf;      /* or: a filter compiled earlier by `seccomp-bpf`, as hex */
  struct sock_fprog seccomp_prog;
};

static const char *const CAP_NAMES[] = {
  "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
  "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
  "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
  "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
  "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
  "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
};
#define NCAPS ((int)(sizeof CAP_NAMES / sizeof CAP_NAMES[0]))

/* Docker's default set: CapEff 00000000a80425fb. */
#define DOCKER_DEFAULT_CAPS                                                                     \
  ((1ULL << 0) | (1ULL << 1) | (1ULL << 3) | (1ULL << 4) | (1ULL << 5) | (1ULL << 6) |         \
   (1ULL << 7) | (1ULL << 8) | (1ULL << 10) | (1ULL << 13) | (1ULL << 18) | (1ULL << 27) |     \
   (1ULL << 29) | (1ULL << 31))

static const struct { const char *name; int resource; } RLIMIT_NAMES[] = {
  {"CPU", RLIMIT_CPU}, {"FSIZE", RLIMIT_FSIZE}, {"DATA", RLIMIT_DATA}, {"STACK", RLIMIT_STACK},
  {"CORE", RLIMIT_CORE}, {"RSS", RLIMIT_RSS}, {"NPROC", RLIMIT_NPROC}, {"NOFILE", RLIMIT_NOFILE},
  {"MEMLOCK", RLIMIT_MEMLOCK}, {"AS", RLIMIT_AS}, {"LOCKS", RLIMIT_LOCKS},
  {"SIGPENDING", RLIMIT_SIGPENDING}, {"MSGQUEUE", RLIMIT_MSGQUEUE}, {"NICE", RLIMIT_NICE},
  {"RTPRIO", RLIMIT_RTPRIO}, {"RTTIME", RLIMIT_RTTIME},
};

/* Docker's masked and read-only paths. */
static const char *const MASKED_PATHS[] = {
  "/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys",
  "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
  "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
};
static const char *const READONLY_PATHS[] = {
  "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

/* ---------- error reporting ---------- */

static int report_fd = 2;   /* where `error ...` lines go (status fd in H/E, a pipe in C/W) */
static int status_fd = 2;
static int host_devnull = -1;   /* opened before entering the container: its /dev/null is not trusted */

static void write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    buf += n; len -= (size_t)n;
  }
}

static void status_line(const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (n > (int)sizeof buf - 2) n = sizeof buf - 2;
  buf[n++] = '\n';
  write_all(status_fd, buf, (size_t)n);
}

/* Report `error <stage> <errno> <message>` and exit. The exit code follows docker:
 * 127 command not found, 126 found but not executable, 125 anything else. */
static void __attribute__((noreturn, format(printf, 3, 4)))
fail(const char *stage, int err, const char *fmt, ...) {
  char msg[800], line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  for (char *p = msg; *p; p++) if (*p == '\n') *p = ' ';
  int n = snprintf(line, sizeof line, "error %s %d %s%s%s\n", stage, err, msg,
                   err ? ": " : "", err ? strerror(err) : "");
  if (n > (int)sizeof line - 1) { n = sizeof line - 1; line[n - 1] = '\n'; }
  write_all(report_fd, line, (size_t)n);
  int code = EXIT_SETUP;
  if (strcmp(stage, "exec") == 0) code = err == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_INVOKE;
  _exit(code);
}

static void *xrealloc(void *p, size_t n) {
  p = realloc(p, n);
  if (!p) fail("spec", ENOMEM, "out of memory");
  return p;
}
#define PUSH(arr, count) (arr = xrealloc(arr, sizeof(*(arr)) * (size_t)((count) + 2)), &(arr)[(count)++])

/* ---------- spec parsing ---------- */

static int hexval(char c);

static unsigned long parse_number(const char *key, const char *v, unsigned long max) {
  char *end;
  errno = 0;
  unsigned long n = strtoul(v, &end, 10);
  if (errno || end == v || *end || n > max) fail("spec", EINVAL, "bad number for %s: '%s'", key, v);
  return n;
}

static rlim_t parse_rlim(const char *v) {
  if (strcmp(v, "unlimited") == 0 || strcmp(v, "-1") == 0) return RLIM_INFINITY;
  return (rlim_t)parse_number("rlimit", v, ULONG_MAX);
}

static int cap_from_name(const char *name) {
  if (strncasecmp(name, "CAP_", 4) == 0) name += 4;
  for (int i = 0; i < NCAPS; i++) if (strcasecmp(CAP_NAMES[i], name) == 0) return i;
  return -1;
}

static void parse_caps(struct spec *s, char *v) {
  s->caps = 0;
  for (char *tok = strtok(v, ","); tok; tok = strtok(NULL, ",")) {
    int c = cap_from_name(tok);
    if (c < 0) fail("spec", EINVAL, "unknown capability '%s'", tok);
    s->caps |= 1ULL << c;
  }
}

static void parse_bind(struct spec *s, char *v) {
  /* src:dst:ro|rw  (paths must not contain ':') */
  char *mode = strrchr(v, ':'), *dst = strchr(v, ':');
  if (!dst || !mode || dst == mode) fail("spec", EINVAL, "mount must be src:dst:ro|rw, got '%s'", v);
  *dst++ = 0; *mode++ = 0;
  if (strcmp(mode, "ro") && strcmp(mode, "rw")) fail("spec", EINVAL, "mount mode must be ro or rw");
  if (v[0] != '/' || dst[0] != '/') fail("spec", EINVAL, "mount paths must be absolute");
  struct bind_mount *b = PUSH(s->binds, s->nbinds);
  b->src = v; b->dst = dst; b->readonly = mode[0] == 'r' && mode[1] == 'o';
}

static void parse_rlimit(struct spec *s, char *v) {
  /* NAME:soft:hard */
  char *soft = strchr(v, ':'), *hard = soft ? strchr(soft + 1, ':') : NULL;
  if (!hard) fail("spec", EINVAL, "rlimit must be NAME:soft:hard, got '%s'", v);
  *soft++ = 0; *hard++ = 0;
  if (strncasecmp(v, "RLIMIT_", 7) == 0) v += 7;
  for (size_t i = 0; i < sizeof RLIMIT_NAMES / sizeof RLIMIT_NAMES[0]; i++) {
    if (strcasecmp(RLIMIT_NAMES[i].name, v) == 0) {
      struct rlimit_entry *r = PUSH(s->rlimits, s->nrlimits);
      r->resource = RLIMIT_NAMES[i].resource;
      r->value.rlim_cur = parse_rlim(soft);
      r->value.rlim_max = parse_rlim(hard);
      return;
    }
  }
  fail("spec", EINVAL, "unknown rlimit '%s'", v);
}

static void unescape(char *s) {
  char *out = s;
  for (; *s; s++) {
    if (*s == '\\' && s[1] == 'n') { *out++ = '\n'; s++; }
    else if (*s == '\\' && s[1] == '\\') { *out++ = '\\'; s++; }
    else *out++ = *s;
  }
  *out = 0;
}

static void parse_line(struct spec *s, char *line) {
  char *v = strchr(line, '=');
  if (!v) fail("spec", EINVAL, "line without '=': '%.80s'", line);
  *v++ = 0;
  unescape(v);
  const char *k = line;
  if (!strcmp(k, "root")) s->root = v;
  else if (!strcmp(k, "arg")) *PUSH(s->argv, s->argc) = v;
  else if (!strcmp(k, "env")) *PUSH(s->env, s->envc) = v;
  else if (!strcmp(k, "cwd")) s->cwd = v;
  else if (!strcmp(k, "uid")) s->uid = (uid_t)parse_number(k, v, UINT32_MAX - 1);
  else if (!strcmp(k, "gid")) s->gid = (gid_t)parse_number(k, v, UINT32_MAX - 1);
  else if (!strcmp(k, "group")) *PUSH(s->groups, s->ngroups) = (gid_t)parse_number(k, v, UINT32_MAX - 1);
  else if (!strcmp(k, "hostname")) s->hostname = v;
  else if (!strcmp(k, "netns")) {
    if (!strcmp(v, "host")) s->netns_host = 1;
    else if (strcmp(v, "new")) fail("spec", EINVAL, "netns must be new or host");
  }
  else if (!strcmp(k, "netns_path")) s->netns_path = v;
  else if (!strcmp(k, "cgroup")) *PUSH(s->cgroups, s->ncgroups) = v;
  else if (!strcmp(k, "mount")) parse_bind(s, v);
  else if (!strcmp(k, "rlimit")) parse_rlimit(s, v);
  else if (!strcmp(k, "caps")) parse_caps(s, v);
  else if (!strcmp(k, "tty")) s->tty = v[0] == '1';
  else if (!strcmp(k, "pty")) s->pty = v[0] == '1';
  else if (!strcmp(k, "rows")) s->rows = (unsigned short)parse_number(k, v, 65535);
  else if (!strcmp(k, "cols")) s->cols = (unsigned short)parse_number(k, v, 65535);
  else if (!strcmp(k, "no_new_privs")) s->no_new_privs = v[0] == '1';
  else if (!strcmp(k, "readonly_root")) s->readonly_root = v[0] == '1';
  else if (!strcmp(k, "wait_start")) s->wait_start = v[0] == '1';
  else if (!strcmp(k, "pid")) s->target_pid = (pid_t)parse_number(k, v, INT_MAX);
  else if (!strcmp(k, "init")) s->init = v[0] == '1';
  else if (!strcmp(k, "lower")) *PUSH(s->lowers, s->nlowers) = v;
  else if (!strcmp(k, "upper")) s->upper = v;
  else if (!strcmp(k, "work")) s->work = v;
  else if (!strcmp(k, "veth_host")) s->veth_host = v;
  else if (!strcmp(k, "bridge")) s->bridge = v;
  else if (!strcmp(k, "mac")) s->mac = v;
  else if (!strcmp(k, "addr")) s->addr = v;
  else if (!strcmp(k, "gateway")) s->gateway = v;
  else if (!strcmp(k, "mtu")) s->mtu = (uint32_t)parse_number(k, v, 65535);
  else if (!strcmp(k, "seccomp_default")) s->seccomp.default_action = v;
  else if (!strcmp(k, "seccomp_arch")) *PUSH(s->seccomp.arches, s->seccomp.narches) = v;
  else if (!strcmp(k, "seccomp_rule")) *PUSH(s->seccomp.rules, s->seccomp.nrules) = v;
  else if (!strcmp(k, "seccomp_bpf")) s->seccomp_bpf = v;
  else fail("spec", EINVAL, "unknown key '%s'", k);
}

static void read_spec(struct spec *s, int fd) {
  size_t cap = 4096, len = 0;
  char *buf = xrealloc(NULL, cap);
  for (;;) {
    if (len + 1 >= cap) buf = xrealloc(buf, cap *= 2);
    ssize_t n = read(fd, buf + len, cap - len - 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("spec", errno, "reading spec");
    if (n == 0) break;
    len += (size_t)n;
  }
  buf[len] = 0;
  memset(s, 0, sizeof *s);
  s->caps = DOCKER_DEFAULT_CAPS;
  s->no_new_privs = 1;
  for (char *line = buf, *next; line && *line; line = next) {
    next = strchr(line, '\n');
    if (next) *next++ = 0;
    if (*line && *line != '#') parse_line(s, line);
  }
  if (s->argc == 0) fail("spec", EINVAL, "no arg= given");
  s->argv[s->argc] = NULL;
  if (s->env) s->env[s->envc] = NULL; else s->env = xrealloc(NULL, sizeof(char *)), s->env[0] = NULL;
  if (!s->cwd) s->cwd = "/";
  if (s->cwd[0] != '/') fail("spec", EINVAL, "cwd must be absolute");
  if ((s->nlowers > 0) != (s->upper != NULL) || (s->upper != NULL) != (s->work != NULL))
    fail("spec", EINVAL, "an overlay root needs lower=, upper= and work=");
  if (s->veth_host && (!s->bridge || !s->mac || !s->addr || !s->gateway))
    fail("spec", EINVAL, "veth_host= needs bridge=, mac=, addr= and gateway=");
  if (s->veth_host && (s->netns_host || s->netns_path)) fail("spec", EINVAL, "veth_host= needs netns=new");
  if (!s->seccomp.default_action && (s->seccomp.nrules || s->seccomp.narches))
    fail("spec", EINVAL, "seccomp_rule= and seccomp_arch= need seccomp_default=");
}

/* Compiled once in H, before any namespace or cgroup exists, so a bad profile fails early.
 * The caller may instead hand over the BPF program `seccomp-bpf` made from the same lines (the
 * TypeScript driver does, once per rule set: compiling costs ~10 ms of CPU on every start). */
static void compile_seccomp(struct spec *s) {
  char err[512];
  if (s->seccomp_bpf) {
    size_t hexlen = strlen(s->seccomp_bpf), len = hexlen / 2;
    if (s->seccomp.default_action) fail("spec", EINVAL, "give seccomp_bpf= or seccomp_* rules, not both");
    if (hexlen % 16 || len == 0 || len / sizeof(struct sock_filter) > BPF_MAXINSNS)
      fail("spec", EINVAL, "seccomp_bpf= must be 1..%d BPF instructions in hex", BPF_MAXINSNS);
    unsigned char *bytes = xrealloc(NULL, len);
    for (size_t i = 0; i < len; i++) {
      int hi = hexval(s->seccomp_bpf[2 * i]), lo = hexval(s->seccomp_bpf[2 * i + 1]);
      if (hi < 0 || lo < 0) fail("spec", EINVAL, "seccomp_bpf= is not hex");
      bytes[i] = (unsigned char)(hi * 16 + lo);
    }
    s->seccomp_prog.len = (unsigned short)(len / sizeof(struct sock_filter));
    s->seccomp_prog.filter = (struct sock_filter *)bytes;
    return;
  }
  if (!s->seccomp.default_action) return;   /* unconfined */
  s->seccomp_filter = muelle_seccomp_compile(&s->seccomp, NULL, err, sizeof err);
  if (!s->seccomp_filter) fail("seccomp", EINVAL, "%s", err);
}

static void load_seccomp(const struct spec *s) {
  if (s->seccomp_prog.len) {
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &s->seccomp_prog) < 0) fail("seccomp", errno, "load filter");
    return;
  }
  if (!s->seccomp_filter) return;
  int rc = muelle_seccomp_load(s->seccomp_filter);
  if (rc < 0) fail("seccomp", -rc, "load filter");
}

/* ---------- small utilities ---------- */

static char *fd_path(int fd, char *buf) {  /* buf must hold 32 bytes */
  snprintf(buf, 32, "/proc/self/fd/%d", fd);
  return buf;
}

/* Close every fd >= 3 except those in keep (close_range, so no /proc is needed). */
static void close_other_fds(const int *keep, int n) {
  int sorted[8];
  memcpy(sorted, keep, sizeof(int) * (size_t)n);
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) { int t = sorted[j]; sorted[j] = sorted[j - 1]; sorted[j - 1] = t; }
  unsigned int from = 3;
  for (int i = 0; i < n; i++) {
    if (sorted[i] < (int)from) continue;
    if ((unsigned)sorted[i] > from) close_range(from, (unsigned)sorted[i] - 1, 0);
    from = (unsigned)sorted[i] + 1;
  }
  close_range(from, ~0U, 0);
}

static void join_cgroups(const struct spec *s, pid_t pid) {
  char path[PATH_MAX], num[32];
  int len = snprintf(num, sizeof num, "%d", pid);
  for (int i = 0; i < s->ncgroups; i++) {
    snprintf(path, sizeof path, "%s/cgroup.procs", s->cgroups[i]);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) fail("cgroup", errno, "open %s", path);
    if (write(fd, num, (size_t)len) != len) fail("cgroup", errno, "join %s", s->cgroups[i]);
    close(fd);
  }
}

/* ---------- path resolution inside the root (CVE-2021-30465 class) ---------- */

static int open_in_root(int rootfd, const char *rel, int flags) {
  struct open_how how = { .flags = (uint64_t)(flags | O_CLOEXEC),
                          .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
  return (int)syscall(SYS_openat2, rootfd, rel[0] ? rel : ".", &how, sizeof how);
}

enum create_kind { CREATE_NONE, CREATE_DIR, CREATE_FILE };

/* Open `path` (absolute, as seen from inside the root) with symlinks resolved inside the root,
 * creating missing components. `..` is refused outright; after resolution the real path must
 * still lie under root_real (a second, independent check). Returns an O_PATH fd or -1. */
static int resolve_target_depth(int rootfd, const char *root_real, const char *path, enum create_kind kind, int depth);

static int resolve_target(int rootfd, const char *root_real, const char *path, enum create_kind kind) {
  return resolve_target_depth(rootfd, root_real, path, kind, 0);
}

/* A component exists as a dangling symlink: create what it points to, inside the root. */
static int create_symlink_target(int rootfd, const char *root_real, int parent, const char *name,
                                 const char *parent_rel, enum create_kind kind, int depth) {
  char target[PATH_MAX], joined[PATH_MAX];
  ssize_t n = readlinkat(parent, name, target, sizeof target - 1);
  if (n < 0) return -1;   /* not a symlink: a real EEXIST, nothing to do */
  target[n] = 0;
  if (depth >= 8) { errno = ELOOP; return -1; }
  int len = target[0] == '/' ? snprintf(joined, sizeof joined, "%s", target)
                              : snprintf(joined, sizeof joined, "/%s/%s", parent_rel, target);
  if (len < 0 || len >= (int)sizeof joined) { errno = ENAMETOOLONG; return -1; }
  int fd = resolve_target_depth(rootfd, root_real, joined, kind, depth + 1);
  if (fd < 0) return -1;
  close(fd);
  return 0;
}

static int resolve_target_depth(int rootfd, const char *root_real, const char *path, enum create_kind kind, int depth) {
  char rel[PATH_MAX], real[PATH_MAX], link[32];
  if (path[0] != '/') { errno = EINVAL; return -1; }
  while (*path == '/') path++;
  if (strlen(path) >= sizeof rel) { errno = ENAMETOOLONG; return -1; }
  strcpy(rel, path);
  for (char *c = rel; *c;) {
    size_t n = strcspn(c, "/");
    if (n == 2 && c[0] == '.' && c[1] == '.') { errno = EXDEV; return -1; }
    c += n; while (*c == '/') c++;
  }
  int fd = open_in_root(rootfd, rel, O_PATH);
  if (fd < 0 && errno == ENOENT && kind != CREATE_NONE) {
    for (char *slash = rel;; ) {
      slash = strchr(slash, '/');
      int last = slash == NULL;
      if (!last) *slash = 0;
      int probe = open_in_root(rootfd, rel, O_PATH);
      if (probe >= 0) close(probe);
      else if (errno != ENOENT) return -1;
      else {
        char *name = strrchr(rel, '/');
        char parent_rel[PATH_MAX] = "";
        int parent;
        if (name) {
          *name = 0;
          snprintf(parent_rel, sizeof parent_rel, "%s", rel);
          parent = open_in_root(rootfd, rel, O_PATH | O_DIRECTORY);
          *name++ = '/';
        } else { name = rel; parent = open_in_root(rootfd, "", O_PATH | O_DIRECTORY); }
        if (parent < 0) return -1;
        enum create_kind here = !last || kind == CREATE_DIR ? CREATE_DIR : CREATE_FILE;
        int rc;
        if (here == CREATE_DIR) rc = mkdirat(parent, name, 0755);
        else {
          rc = openat(parent, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
          if (rc >= 0) rc = close(rc);
        }
        int saved = errno;
        if (rc < 0 && saved == EEXIST)
          rc = create_symlink_target(rootfd, root_real, parent, name, parent_rel, here, depth), saved = errno;
        close(parent);
        if (rc < 0 && saved != EEXIST) { errno = saved; return -1; }
      }
      if (last) break;
      *slash++ = '/';
    }
    fd = open_in_root(rootfd, rel, O_PATH);
  }
  if (fd < 0) return -1;
  ssize_t n = readlink(fd_path(fd, link), real, sizeof real - 1);
  if (n < 0) { close(fd); return -1; }
  real[n] = 0;
  size_t rl = strlen(root_real);
  if (strncmp(real, root_real, rl) || (real[rl] != '/' && real[rl] != 0)) {
    close(fd);
    errno = EXDEV;
    return -1;
  }
  return fd;
}

/* ---------- root filesystem ---------- */

static int mount_at(int fd, const char *src, const char *type, unsigned long flags, const char *data) {
  char p[32];
  return mount(src, fd_path(fd, p), type, flags, data);
}

static void set_attrs(int fd, uint64_t attrs, int recursive, const char *what) {
  struct mount_attr attr = { .attr_set = attrs };
  if (mount_setattr(fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr, sizeof attr) < 0)
    fail("mount", errno, "set flags on %s", what);
}

/* Open a directory directly below dirfd, refusing symlinks (e.g. /proc as a symlink). */
static int open_plain_dir(int dirfd, const char *name, mode_t mode) {
  if (mkdirat(dirfd, name, mode) < 0 && errno != EEXIST) fail("mount", errno, "mkdir %s", name);
  int fd = openat(dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) fail("mount", errno, "/%s must be a directory, not a symlink", name);
  return fd;
}

static int open_verified_dev(const char *path, unsigned maj, unsigned min) {
  struct stat st;
  int fd = open(path, O_PATH | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 || fstat(fd, &st) < 0) fail("mount", errno, "open host %s", path);
  if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != maj || minor(st.st_rdev) != min)
    fail("mount", EINVAL, "host %s is not char %u:%u", path, maj, min);
  return fd;
}

static void setup_dev(int rootfd) {
  static const struct { const char *name; unsigned maj, min; } devices[] = {
    {"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
  };
  static const char *const links[][2] = {
    {"ptmx", "pts/ptmx"}, {"fd", "/proc/self/fd"}, {"stdin", "/proc/self/fd/0"},
    {"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"},
  };
  char hostp[64], p1[32], p2[32];
  int dir = open_plain_dir(rootfd, "dev", 0755);
  if (mount_at(dir, "tmpfs", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k") < 0)
    fail("mount", errno, "tmpfs on /dev");
  close(dir);
  dir = open_plain_dir(rootfd, "dev", 0755);   /* reopen: now the fresh tmpfs */
  for (size_t i = 0; i < sizeof devices / sizeof devices[0]; i++) {
    snprintf(hostp, sizeof hostp, "/dev/%s", devices[i].name);
    int host = open_verified_dev(hostp, devices[i].maj, devices[i].min);
    int node = openat(dir, devices[i].name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (node < 0) fail("mount", errno, "create /dev/%s", devices[i].name);
    if (mount(fd_path(host, p1), fd_path(node, p2), NULL, MS_BIND, NULL) < 0)
      fail("mount", errno, "bind /dev/%s", devices[i].name);
    close(node); close(host);
  }
  for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
    if (symlinkat(links[i][1], dir, links[i][0]) < 0) fail("mount", errno, "symlink /dev/%s", links[i][0]);
  int sub = open_plain_dir(dir, "pts", 0755);
  if (mount_at(sub, "devpts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5") < 0)
    fail("mount", errno, "devpts on /dev/pts");
  close(sub);
  sub = open_plain_dir(dir, "shm", 01777);
  if (mount_at(sub, "shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k") < 0)
    fail("mount", errno, "tmpfs on /dev/shm");
  close(sub);
  sub = open_plain_dir(dir, "mqueue", 0755);
  if (mount_at(sub, "mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
    fail("mount", errno, "mqueue on /dev/mqueue");
  close(sub);
  close(dir);
}

static void setup_sys(int rootfd, int host_net) {
  int dir = open_plain_dir(rootfd, "sys", 0755);
  if (!host_net) {
    if (mount_at(dir, "sysfs", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
      fail("mount", errno, "sysfs on /sys");
  } else {
    /* sysfs shows the mounter's netns; with the host netns bind the host /sys read-only,
     * recursively, so the host's cgroupfs submounts come along read-only too. */
    if (mount_at(dir, "/sys", NULL, MS_BIND | MS_REC, NULL) < 0) fail("mount", errno, "bind /sys");
    close(dir);
    dir = open_plain_dir(rootfd, "sys", 0755);
    set_attrs(dir, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, 1, "/sys");
  }
  close(dir);
}

static void setup_binds(const struct spec *s, int rootfd, const char *root_real) {
  char p1[32], p2[32];
  for (int i = 0; i < s->nbinds; i++) {
    const struct bind_mount *b = &s->binds[i];
    struct stat st;
    int src = open(b->src, O_PATH | O_CLOEXEC);
    if (src < 0 || fstat(src, &st) < 0) fail("mount", errno, "bind source %s", b->src);
    int dst = resolve_target(rootfd, root_real, b->dst, S_ISDIR(st.st_mode) ? CREATE_DIR : CREATE_FILE);
    if (dst < 0) fail("mount", errno, "bind target %s escapes or cannot be created in the root", b->dst);
    if (mount(fd_path(src, p1), fd_path(dst, p2), NULL, MS_BIND | MS_REC, NULL) < 0)
      fail("mount", errno, "bind %s on %s", b->src, b->dst);
    close(dst);
    dst = resolve_target(rootfd, root_real, b->dst, CREATE_NONE);   /* the new mount */
    if (dst < 0) fail("mount", errno, "reopen %s", b->dst);
    set_attrs(dst, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (b->readonly ? MOUNT_ATTR_RDONLY : 0), 1, b->dst);
    close(dst); close(src);
  }
}

static void setup_masks(int rootfd, const char *root_real) {
  char p1[32];
  int devnull = open_verified_dev("/dev/null", 1, 3);   /* CVE-2025-31133: never the container's */
  for (size_t i = 0; i < sizeof MASKED_PATHS / sizeof MASKED_PATHS[0]; i++) {
    struct stat st;
    int fd = resolve_target(rootfd, root_real, MASKED_PATHS[i], CREATE_NONE);
    if (fd < 0 && errno == ENOENT) continue;
    if (fd < 0 || fstat(fd, &st) < 0) fail("mount", errno, "mask %s", MASKED_PATHS[i]);
    int rc = S_ISDIR(st.st_mode)
      ? mount_at(fd, "tmpfs", "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=555")
      : mount_at(fd, fd_path(devnull, p1), NULL, MS_BIND, NULL);
    if (rc < 0) fail("mount", errno, "mask %s", MASKED_PATHS[i]);
    close(fd);
  }
  close(devnull);
  for (size_t i = 0; i < sizeof READONLY_PATHS / sizeof READONLY_PATHS[0]; i++) {
    int fd = resolve_target(rootfd, root_real, READONLY_PATHS[i], CREATE_NONE);
    if (fd < 0 && errno == ENOENT) continue;
    if (fd < 0 || mount_at(fd, fd_path(fd, p1), NULL, MS_BIND | MS_REC, NULL) < 0)
      fail("mount", errno, "read-only bind %s", READONLY_PATHS[i]);
    close(fd);
    fd = resolve_target(rootfd, root_real, READONLY_PATHS[i], CREATE_NONE);
    if (fd < 0) fail("mount", errno, "reopen %s", READONLY_PATHS[i]);
    set_attrs(fd, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, 1, READONLY_PATHS[i]);
    close(fd);
  }
}

static void enter_root(int rootfd) {
  int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (oldroot < 0) fail("pivot", errno, "open /");
  if (fchdir(rootfd) < 0) fail("pivot", errno, "chdir root");
  if (syscall(SYS_pivot_root, ".", ".") == 0) {
    /* The old root is now stacked on top of ".": detach it without touching the host. */
    if (fchdir(oldroot) < 0) fail("pivot", errno, "chdir old root");
    if (mount(NULL, ".", NULL, MS_REC | MS_PRIVATE, NULL) < 0) fail("pivot", errno, "make old root private");
    if (umount2(".", MNT_DETACH) < 0) fail("pivot", errno, "detach old root");
  } else if (errno == EINVAL) {
    /* pivot_root refuses when the current root is the initramfs (rootfs): move + chroot.
     * Weaker: the host mounts stay reachable below the new root for a CAP_SYS_CHROOT escape,
     * which the default capability set still allows. */
    if (mount(".", "/", NULL, MS_MOVE, NULL) < 0) fail("pivot", errno, "move root");
    if (chroot(".") < 0) fail("pivot", errno, "chroot");
  } else {
    fail("pivot", errno, "pivot_root");
  }
  if (chdir("/") < 0) fail("pivot", errno, "chdir /");
  close(oldroot);
}

static void setup_rootfs(const struct spec *s) {
  char root_real[PATH_MAX];
  if (!s->root) fail("spec", EINVAL, "no root= given");
  if (!realpath(s->root, root_real)) fail("mount", errno, "root %s", s->root);
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) fail("mount", errno, "make / rprivate");
  if (s->upper) {
    /* The overlay exists only in this mount namespace: it goes away with the container and
     * the host never needs to mount or unmount anything. */
    char opts[4096];
    size_t n = (size_t)snprintf(opts, sizeof opts, "lowerdir=");
    for (int i = 0; i < s->nlowers && n < sizeof opts; i++)
      n += (size_t)snprintf(opts + n, sizeof opts - n, "%s%s", i ? ":" : "", s->lowers[i]);
    if (n < sizeof opts) n += (size_t)snprintf(opts + n, sizeof opts - n, ",upperdir=%s,workdir=%s", s->upper, s->work);
    if (n >= sizeof opts) fail("mount", E2BIG, "overlay options longer than %zu bytes", sizeof opts - 1);
    if (mount("overlay", root_real, "overlay", MS_NODEV, opts) < 0) fail("mount", errno, "overlay root on %s", root_real);
  } else if (mount(root_real, root_real, NULL, MS_BIND | MS_REC, NULL) < 0) fail("mount", errno, "bind root");
  int rootfd = open(root_real, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) fail("mount", errno, "open root");

  int proc = open_plain_dir(rootfd, "proc", 0555);
  if (mount_at(proc, "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) fail("mount", errno, "proc");
  close(proc);
  setup_dev(rootfd);
  setup_sys(rootfd, s->netns_host);
  setup_binds(s, rootfd, root_real);
  setup_masks(rootfd, root_real);
  if (s->readonly_root) set_attrs(rootfd, MOUNT_ATTR_RDONLY, 0, "/");
  enter_root(rootfd);
  close(rootfd);
}

static void loopback_up(void) {
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct ifreq ifr = {0};
  strcpy(ifr.ifr_name, "lo");
  if (sock < 0 || ioctl(sock, SIOCGIFFLAGS, &ifr) < 0) fail("network", errno, "lo flags");
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0) fail("network", errno, "lo up");
  close(sock);
}

/* ---------- bridge networking: one netlink request from H, a few ioctls in C ---------- */

struct nl_request { struct nlmsghdr h; struct ifinfomsg ifi; char attrs[1024]; };

static struct rtattr *nl_put(struct nl_request *r, int type, const void *data, size_t len) {
  size_t at = NLMSG_ALIGN(r->h.nlmsg_len);
  if (at + RTA_SPACE(len) > sizeof *r) fail("network", E2BIG, "netlink request too long");
  struct rtattr *rta = (struct rtattr *)((char *)r + at);
  rta->rta_type = (unsigned short)type;
  rta->rta_len = (unsigned short)RTA_LENGTH(len);
  if (len) { if (data) memcpy(RTA_DATA(rta), data, len); else memset(RTA_DATA(rta), 0, len); }
  r->h.nlmsg_len = (uint32_t)(at + RTA_ALIGN(rta->rta_len));
  return rta;
}

static void nl_close_nest(struct nl_request *r, struct rtattr *nest) {
  nest->rta_len = (unsigned short)((char *)r + r->h.nlmsg_len - (char *)nest);
}

/* Sends one request and returns 0 or the kernel's (positive) errno. */
static int nl_talk(int sock, struct nl_request *r) {
  static uint32_t seq;
  r->h.nlmsg_seq = ++seq;
  struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
  if (sendto(sock, r, r->h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) return errno;
  char buf[4096];
  for (;;) {
    ssize_t n = recv(sock, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_seq != r->h.nlmsg_seq) continue;
      if (h->nlmsg_type == NLMSG_ERROR) return -((struct nlmsgerr *)NLMSG_DATA(h))->error;
    }
  }
}

static void nl_link_request(struct nl_request *r, int type, int flags, const char *name) {
  memset(r, 0, sizeof *r);
  r->h.nlmsg_len = NLMSG_LENGTH(sizeof r->ifi);
  r->h.nlmsg_type = (uint16_t)type;
  r->h.nlmsg_flags = (uint16_t)(NLM_F_REQUEST | NLM_F_ACK | flags);
  r->ifi.ifi_family = AF_UNSPEC;
  nl_put(r, IFLA_IFNAME, name, strlen(name) + 1);
}

/* H: a veth pair whose host end is up in the bridge and whose peer is `eth0` (up, with the
 * given MAC) in the network namespace of `pid` — what `ip link add` + `ip link set` did, without
 * spawning anything. A host end left over by a crash is replaced. */
static void create_veth(const struct spec *s, pid_t pid) {
  unsigned char mac[6];
  if (sscanf(s->mac, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1], &mac[2], &mac[3], &mac[4], &mac[5]) != 6)
    fail("network", EINVAL, "bad mac %s", s->mac);
  uint32_t master = if_nametoindex(s->bridge);
  if (!master) fail("network", errno, "bridge %s", s->bridge);
  int sock = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (sock < 0) fail("network", errno, "netlink socket");
  struct nl_request r;
  for (int attempt = 0;; attempt++) {
    /* Created down: the kernel refuses (ENOTCONN) to bring up either end while the pair is being
     * made with a master; the host end goes up below, eth0 is brought up by the container. */
    nl_link_request(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, s->veth_host);
    nl_put(&r, IFLA_MASTER, &master, sizeof master);
    if (s->mtu) nl_put(&r, IFLA_MTU, &s->mtu, sizeof s->mtu);
    struct rtattr *info = nl_put(&r, IFLA_LINKINFO, NULL, 0);
    nl_put(&r, IFLA_INFO_KIND, "veth", 4);
    struct rtattr *data = nl_put(&r, IFLA_INFO_DATA, NULL, 0);
    struct rtattr *peer = nl_put(&r, VETH_INFO_PEER, NULL, sizeof(struct ifinfomsg));
    ((struct ifinfomsg *)RTA_DATA(peer))->ifi_family = AF_UNSPEC;
    nl_put(&r, IFLA_IFNAME, "eth0", 5);
    nl_put(&r, IFLA_ADDRESS, mac, sizeof mac);
    if (s->mtu) nl_put(&r, IFLA_MTU, &s->mtu, sizeof s->mtu);
    uint32_t ns_pid = (uint32_t)pid;
    nl_put(&r, IFLA_NET_NS_PID, &ns_pid, sizeof ns_pid);
    nl_close_nest(&r, peer);
    nl_close_nest(&r, data);
    nl_close_nest(&r, info);
    int err = nl_talk(sock, &r);
    if (!err) break;
    if (err != EEXIST || attempt > 0) { close(sock); fail("network", err, "create veth %s", s->veth_host); }
    nl_link_request(&r, RTM_DELLINK, 0, s->veth_host);
    nl_talk(sock, &r);
  }
  nl_link_request(&r, RTM_NEWLINK, 0, s->veth_host);
  r.ifi.ifi_flags = r.ifi.ifi_change = IFF_UP;
  int err = nl_talk(sock, &r);
  if (err) { close(sock); fail("network", err, "set %s up", s->veth_host); }
  close(sock);
}

/* C, inside its network namespace: address on eth0 and the default route. */
static void configure_eth0(const struct spec *s) {
  char addr[64];
  snprintf(addr, sizeof addr, "%s", s->addr);
  char *slash = strchr(addr, '/');
  unsigned prefix = 32;
  if (slash) { *slash = 0; prefix = (unsigned)parse_number("addr prefix", slash + 1, 32); }
  struct ifreq ifr = {0};
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "eth0");
  struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
  sin->sin_family = AF_INET;
  if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1) fail("network", EINVAL, "bad address %s", s->addr);
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) fail("network", errno, "socket");
  if (ioctl(sock, SIOCSIFADDR, &ifr) < 0) fail("network", errno, "address %s on eth0", s->addr);
  sin->sin_addr.s_addr = htonl(prefix ? 0xffffffffU << (32 - prefix) : 0);
  if (ioctl(sock, SIOCSIFNETMASK, &ifr) < 0) fail("network", errno, "netmask /%u on eth0", prefix);
  if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0) fail("network", errno, "eth0 flags");
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0) fail("network", errno, "eth0 up");
  struct rtentry rt = {0};
  struct sockaddr_in *dst = (struct sockaddr_in *)&rt.rt_dst, *gw = (struct sockaddr_in *)&rt.rt_gateway,
                     *mask = (struct sockaddr_in *)&rt.rt_genmask;
  dst->sin_family = gw->sin_family = mask->sin_family = AF_INET;
  if (inet_pton(AF_INET, s->gateway, &gw->sin_addr) != 1) fail("network", EINVAL, "bad gateway %s", s->gateway);
  rt.rt_flags = RTF_UP | RTF_GATEWAY;
  if (ioctl(sock, SIOCADDRT, &rt) < 0) fail("network", errno, "default route via %s", s->gateway);
  close(sock);
}

/* ---------- the workload (W / X): privilege drop and exec ---------- */

static int read_cap_last_cap(void) {
  char buf[16] = {0};
  int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NCAPS - 1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  return n > 0 ? atoi(buf) : NCAPS - 1;
}

static void drop_privileges(const struct spec *s) {
  int last = read_cap_last_cap();
  for (int c = 0; c <= last; c++)
    if (!(s->caps & (1ULL << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
      fail("caps", errno, "drop bounding cap %d", c);
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) fail("caps", errno, "keepcaps");
  if (setgroups((size_t)s->ngroups, s->groups) < 0) fail("user", errno, "setgroups");
  if (setresgid(s->gid, s->gid, s->gid) < 0) fail("user", errno, "setgid %u", s->gid);
  if (setresuid(s->uid, s->uid, s->uid) < 0) fail("user", errno, "setuid %u", s->uid);
  if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) fail("caps", errno, "keepcaps off");
  struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct data[2] = {0};
  data[0].effective = data[0].permitted = (uint32_t)s->caps;
  data[1].effective = data[1].permitted = (uint32_t)(s->caps >> 32);
  if (syscall(SYS_capset, &hdr, data) < 0) fail("caps", errno, "capset");
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    fail("caps", errno, "clear ambient");
  if (s->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) fail("caps", errno, "no_new_privs");
}

static void mkdir_p(const char *path) {
  char buf[PATH_MAX];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = buf + 1; *p; p++)
    if (*p == '/') { *p = 0; mkdir(buf, 0755); *p = '/'; }
  mkdir(buf, 0755);
}

static const char *env_path(char **env) {
  for (char **e = env; *e; e++) if (strncmp(*e, "PATH=", 5) == 0) return *e + 5;
  return DEFAULT_PATH;
}

static void __attribute__((noreturn)) exec_workload(const struct spec *s) {
  const char *cmd = s->argv[0];
  if (strchr(cmd, '/')) {
    execve(cmd, s->argv, s->env);
    fail("exec", errno, "%s", cmd);
  }
  int saw_eacces = 0;
  char candidate[PATH_MAX];
  const char *dirs = env_path(s->env);
  while (*dirs) {
    size_t n = strcspn(dirs, ":");
    snprintf(candidate, sizeof candidate, "%.*s/%s", (int)(n ? n : 1), n ? dirs : ".", cmd);
    execve(candidate, s->argv, s->env);
    if (errno == EACCES) saw_eacces = 1;
    else if (errno != ENOENT && errno != ENOTDIR) fail("exec", errno, "%s", candidate);
    dirs += n; if (*dirs == ':') dirs++;
  }
  if (saw_eacces) fail("exec", EACCES, "%s", cmd);
  fail("exec", ENOENT, "%s: executable file not found in $PATH", cmd);
}

/* Runs in the final process after fork: never returns. errfd is CLOEXEC and closes on success. */
static void __attribute__((noreturn)) become_workload(const struct spec *s, int errfd, int master, int die_with_parent) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  for (int sig = 1; sig < NSIG; sig++) signal(sig, SIG_DFL);
  report_fd = errfd;
  umask(022);
  if (setsid() < 0) fail("tty", errno, "setsid");
  if (master >= 0) {
    int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
    if (slave < 0) fail("pty", errno, "open pty peer");
    if (ioctl(slave, TIOCSCTTY, 0) < 0) fail("pty", errno, "controlling tty");
    if (s->rows && s->cols) {
      struct winsize ws = { .ws_row = s->rows, .ws_col = s->cols };
      ioctl(slave, TIOCSWINSZ, &ws);
    }
    for (int fd = 0; fd < 3; fd++) if (dup2(slave, fd) < 0) fail("pty", errno, "dup2");
    close(slave);
  } else if (s->tty && ioctl(0, TIOCSCTTY, 0) < 0) {
    fail("tty", errno, "controlling tty on stdin");
  }
  for (int i = 0; i < s->nrlimits; i++)
    if (setrlimit(s->rlimits[i].resource, &s->rlimits[i].value) < 0) fail("rlimit", errno, "setrlimit");
  close_other_fds(&errfd, 1);   /* CVE-2024-21626: nothing from the host survives exec */
  mkdir_p(s->cwd);
  char cwd[PATH_MAX];
  if (chdir(s->cwd) < 0) fail("cwd", errno, "chdir %s", s->cwd);
  if (!getcwd(cwd, sizeof cwd) || cwd[0] != '/') fail("cwd", EPERM, "cwd %s is outside the root", s->cwd);
  /* Without no_new_privs only CAP_SYS_ADMIN may install a filter: load it while we still hold it
   * (the privilege drop's own syscalls are all allowed). With it, load last, right before exec. */
  if (!s->no_new_privs) load_seccomp(s);
  drop_privileges(s);
  /* Changing uid/gid cleared the parent-death signal: the container still dies with its helper. */
  if (die_with_parent && prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) fail("caps", errno, "pdeathsig");
  if (s->no_new_privs) load_seccomp(s);
  exec_workload(s);
}

/* ---------- the monitor loop (H for run, E for exec) ---------- */

static const int FORWARDED_SIGNALS[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGALRM };

static void block_signals(sigset_t *set) {
  sigemptyset(set);
  sigaddset(set, SIGCHLD);
  for (size_t i = 0; i < sizeof FORWARDED_SIGNALS / sizeof FORWARDED_SIGNALS[0]; i++)
    sigaddset(set, FORWARDED_SIGNALS[i]);
  sigprocmask(SIG_BLOCK, set, NULL);
}

struct control { int fd; char buf[256]; size_t len; };

/* Returns 1 and fills line when a full line is buffered, 0 if none yet, -1 on EOF. */
static int control_line(struct control *c, char *line, size_t size) {
  for (;;) {
    char *nl = memchr(c->buf, '\n', c->len);
    if (nl) {
      size_t n = (size_t)(nl - c->buf);
      snprintf(line, size, "%.*s", (int)n, c->buf);
      memmove(c->buf, nl + 1, c->len - n - 1);
      c->len -= n + 1;
      return 1;
    }
    if (c->len == sizeof c->buf) c->len = 0;   /* overlong garbage: drop it */
    ssize_t r = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return r < 0 && errno == EAGAIN ? 0 : -1;
    c->len += (size_t)r;
    if (!memchr(c->buf, '\n', c->len)) return 0;
  }
}

static int stdin_hold = -1;   /* --stdin-hold: our write end of the stdin FIFO */
static int out_pipe = -1, err_pipe = -1;   /* --log-dir without pty: the workload's stdout/stderr */

static void handle_control(struct control *c, int master) {
  char line[256];
  int rc;
  while ((rc = control_line(c, line, sizeof line)) == 1) {
    unsigned rows, cols;
    if (!strcmp(line, "close-stdin") && stdin_hold >= 0) { close(stdin_hold); stdin_hold = -1; }
    if (sscanf(line, "resize %u %u", &rows, &cols) == 2 && master >= 0) {
      struct winsize ws = { .ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols };
      ioctl(master, TIOCSWINSZ, &ws);
    }
  }
  if (rc < 0) c->fd = -1;
}

static int pump(int from, int to) {   /* 1 = moved data, 0 = nothing now, -1 = EOF/EIO */
  char buf[8192];
  ssize_t n = read(from, buf, sizeof buf);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
  if (n <= 0) return -1;
  write_all(to, buf, (size_t)n);
  return 1;
}

/* The pty's output: to our stdout, or into the output log when there is one. */
static int pump_output(int master, int stream) {
  return muelle_output_enabled() ? muelle_output_pump(master, stream) : pump(master, 1);
}

/* After the exit: what the workload wrote last. Its processes are gone with the pid namespace's
 * init, so EOF comes at once; the bound only guards against a writer we do not know of. */
static void drain_output_pipes(void) {
  for (int rounds = 0; (out_pipe >= 0 || err_pipe >= 0) && rounds < 1000; rounds++) {
    struct pollfd p[2] = { { out_pipe, POLLIN, 0 }, { err_pipe, POLLIN, 0 } };
    int n = poll(p, 2, 2000);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (p[0].revents && muelle_output_pump(out_pipe, 1) < 0) { close(out_pipe); out_pipe = -1; }
    if (p[1].revents && muelle_output_pump(err_pipe, 2) < 0) { close(err_pipe); err_pipe = -1; }
  }
}

/* Wait for `child`, forwarding signals, relaying the pty and applying resizes. Returns the wait status. */
static int monitor(pid_t child, int master, struct control *ctl, const sigset_t *sigs) {
  int sfd = signalfd(-1, sigs, SFD_CLOEXEC);
  if (sfd < 0) fail("monitor", errno, "signalfd");
  int stdin_open = master >= 0, status = 0;
  if (master >= 0) fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
  if (ctl->fd >= 0) fcntl(ctl->fd, F_SETFL, fcntl(ctl->fd, F_GETFL) | O_NONBLOCK);
  for (;;) {
    struct pollfd p[6] = {
      { sfd, POLLIN, 0 }, { master, POLLIN, 0 }, { stdin_open ? 0 : -1, POLLIN, 0 }, { ctl->fd, POLLIN, 0 },
      { out_pipe, POLLIN, 0 }, { err_pipe, POLLIN, 0 },
    };
    if (poll(p, 6, -1) < 0) { if (errno == EINTR) continue; fail("monitor", errno, "poll"); }
    if (p[0].revents & POLLIN) {
      struct signalfd_siginfo si;
      if (read(sfd, &si, sizeof si) == sizeof si) {
        if (si.ssi_signo != SIGCHLD) kill(child, (int)si.ssi_signo);
        else if (waitpid(child, &status, WNOHANG) == child) break;
      }
    }
    if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) if (pump_output(master, 1) < 0) master = -1;
    if (p[2].revents & (POLLIN | POLLHUP | POLLERR)) if (pump(0, master) < 0) stdin_open = 0;
    if (p[3].revents & (POLLIN | POLLHUP | POLLERR)) handle_control(ctl, master);
    if (p[4].revents & (POLLIN | POLLHUP | POLLERR)) if (muelle_output_pump(out_pipe, 1) < 0) { close(out_pipe); out_pipe = -1; }
    if (p[5].revents & (POLLIN | POLLHUP | POLLERR)) if (muelle_output_pump(err_pipe, 2) < 0) { close(err_pipe); err_pipe = -1; }
  }
  if (master >= 0) while (pump_output(master, 1) > 0) {}   /* output left in the pty after the exit */
  drain_output_pipes();
  close(sfd);
  return status;
}

static int exit_code_of(int status) {
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

/* Read the workload's exec result: EOF = exec succeeded; a line = `error ...`. */
static int await_exec(int fd, char *msg, size_t size) {
  size_t len = 0;
  for (;;) {
    ssize_t n = read(fd, msg + len, size - len - 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += (size_t)n;
    if (len == size - 1) break;
  }
  msg[len] = 0;
  return (int)len;
}

static int open_pty_master(void) {
  struct statfs sf;
  int unlock = 0;
  int master = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) fail("pty", errno, "open /dev/pts/ptmx");
  if (fstatfs(master, &sf) < 0 || sf.f_type != DEVPTS_MAGIC) fail("pty", EINVAL, "/dev/pts/ptmx is not devpts");
  if (ioctl(master, TIOCSPTLCK, &unlock) < 0) fail("pty", errno, "unlock pty");
  return master;
}

/* ---------- run ---------- */

struct run_ctx { const struct spec *s; int report, go; };

/* Messages from C to H over a SOCK_SEQPACKET pair: "started", "error ...", "exit <code> <sig>",
 * and "pty" carrying the pty master via SCM_RIGHTS. */
static void send_msg(int sock, const char *msg, int fd) {
  char ctrl[CMSG_SPACE(sizeof(int))] = {0};
  struct iovec iov = { (void *)msg, strlen(msg) };
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
  if (fd >= 0) {
    mh.msg_control = ctrl; mh.msg_controllen = sizeof ctrl;
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET; cm->cmsg_type = SCM_RIGHTS; cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof fd);
  }
  sendmsg(sock, &mh, MSG_NOSIGNAL);
}

static ssize_t recv_msg(int sock, char *buf, size_t size, int *fd) {
  char ctrl[CMSG_SPACE(sizeof(int))];
  struct iovec iov = { buf, size - 1 };
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl, .msg_controllen = sizeof ctrl };
  ssize_t n;
  do n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC); while (n < 0 && errno == EINTR);
  buf[n > 0 ? n : 0] = 0;
  struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
  if (fd && cm && cm->cmsg_type == SCM_RIGHTS) memcpy(fd, CMSG_DATA(cm), sizeof(int));
  return n;
}

static char **main_argv;
static int main_argc;

/* With init=1 the helper stays PID 1: its /proc/1/cmdline would show the helper's host path and
 * options to the container. Overwrite the argument area in place: a name, its NUL, then padding
 * that is not NUL, so the kernel reports the area up to the first NUL (the setproctitle rule). */
static void hide_host_cmdline(void) {
  static const char name[] = "muelle-init";
  char *start = main_argv[0], *end = main_argv[main_argc - 1] + strlen(main_argv[main_argc - 1]) + 1;
  if ((size_t)(end - start) <= sizeof name) return;
  memcpy(start, name, sizeof name);
  memset(start + sizeof name, ' ', (size_t)(end - start) - sizeof name);
}

/* C: PID 1 of the new pid namespace. */
static void __attribute__((noreturn)) container_init(struct run_ctx *ctx) {
  const struct spec *s = ctx->s;
  int keep[3] = { ctx->report, ctx->go, host_devnull };
  report_fd = ctx->report;
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);   /* the container must not ptrace or open /proc/1/exe */
  close_other_fds(keep, 3);
  char go;
  if (read(ctx->go, &go, 1) != 1) _exit(EXIT_SETUP);   /* H gave up (e.g. cgroup join failed) */
  close(ctx->go);
  if (s->netns_path) {
    int fd = open(s->netns_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) fail("namespace", errno, "join netns %s", s->netns_path);
    close(fd);
  }
  if (!s->netns_host && !s->netns_path) loopback_up();
  if (s->veth_host) configure_eth0(s);
  /* Only now, inside its cgroups, so the container sees its own cgroup as the root. */
  if (unshare(CLONE_NEWCGROUP) < 0) fail("namespace", errno, "unshare cgroup namespace");
  setup_rootfs(s);
  if (s->hostname && sethostname(s->hostname, strlen(s->hostname)) < 0) fail("hostname", errno, "sethostname");
  int master = s->pty ? open_pty_master() : -1;
  if (!s->init) {
    /* Default (like `docker run` without --init): PID 1 is the entrypoint itself. The report
     * socket is close-on-exec, so H sees "exec" then EOF once execve succeeded, or an error. */
    if (master >= 0) send_msg(ctx->report, "pty", master);
    send_msg(ctx->report, "exec", -1);
    become_workload(s, ctx->report, master, 1);
  }
  hide_host_cmdline();
  int execpipe[2];
  if (pipe2(execpipe, O_CLOEXEC) < 0) fail("clone", errno, "pipe");
  pid_t w = fork();
  if (w < 0) fail("clone", errno, "fork workload");
  if (w == 0) { close(execpipe[0]); close(ctx->report); become_workload(s, execpipe[1], master, 0); }
  close(execpipe[1]);
  /* The init stays in the container too: it gets the same filter (it still holds CAP_SYS_ADMIN,
   * so no_new_privs is not needed); everything its loop below calls is allowed. */
  load_seccomp(s);
  char msg[1024];
  if (master >= 0) { send_msg(ctx->report, "pty", master); close(master); }
  if (await_exec(execpipe[0], msg, sizeof msg) > 0) {
    int st;
    send_msg(ctx->report, msg, -1);
    waitpid(w, &st, 0);
    _exit(exit_code_of(st));
  }
  close(execpipe[0]);
  send_msg(ctx->report, "started", -1);
  for (int fd = 0; fd < 3; fd++) dup2(host_devnull, fd);
  /* Init loop: signals arrive blocked (inherited mask); forward them, reap every zombie. */
  sigset_t set;
  block_signals(&set);
  for (;;) {
    siginfo_t si;
    int sig = sigwaitinfo(&set, &si);
    if (sig < 0) continue;
    if (sig != SIGCHLD) { kill(w, sig); continue; }
    int st;
    pid_t p;
    while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
      if (p != w) continue;
      snprintf(msg, sizeof msg, "exit %d %d", exit_code_of(st), WIFSIGNALED(st) ? WTERMSIG(st) : 0);
      send_msg(ctx->report, msg, -1);
      _exit(exit_code_of(st));
    }
  }
}

/* Once the workload owns stdio, let go of it so the caller sees EOF when the workload ends. */
static void quiet_stdio(int keep_stdio) {
  for (int fd = 0; fd < 3 && !keep_stdio; fd++) dup2(host_devnull, fd);
}

static void write_exit_file(int code, int sig);
static struct timespec started_at;

/* --log-dir without a pty: the workload writes into pipes whose read ends only we hold. */
static void make_output_pipes(void) {
  int o[2], e[2];
  if (pipe2(o, O_CLOEXEC) < 0 || pipe2(e, O_CLOEXEC) < 0) fail("clone", errno, "output pipes");
  if (dup2(o[1], 1) < 0 || dup2(e[1], 2) < 0) fail("clone", errno, "output pipes");
  close(o[1]); close(e[1]);
  out_pipe = o[0]; err_pipe = e[0];
  fcntl(out_pipe, F_SETFL, O_NONBLOCK);
  fcntl(err_pipe, F_SETFL, O_NONBLOCK);
}

static int run_container(const struct spec *s, struct control *ctl) {
  int sock[2], go[2];
  sigset_t sigs;
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sock) < 0 || pipe2(go, O_CLOEXEC) < 0)
    fail("clone", errno, "socketpair");
  if (muelle_output_enabled() && !s->pty) make_output_pipes();
  block_signals(&sigs);
  unsigned long flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | SIGCHLD;
  if (!s->netns_host && !s->netns_path) flags |= CLONE_NEWNET;
  /* Raw clone without a new stack behaves like fork(); fine in a single-threaded process. */
  pid_t c = (pid_t)syscall(SYS_clone, flags, NULL, NULL, NULL, NULL);
  if (c < 0) fail("namespace", errno, "clone");
  if (c == 0) {
    struct run_ctx ctx = { s, sock[1], go[0] };
    close(sock[0]); close(go[1]);
    container_init(&ctx);
  }
  close(sock[1]); close(go[0]);
  join_cgroups(s, c);   /* before the container runs a single instruction of its own */
  if (s->veth_host) create_veth(s, c);
  status_line("pid %d", c);
  if (s->wait_start) {
    char line[256];
    int rc;
    while ((rc = control_line(ctl, line, sizeof line)) == 1 && strcmp(line, "start")) {}
    if (rc != 1) { kill(c, SIGKILL); fail("start", ECANCELED, "control channel closed before start"); }
  }
  if (write(go[1], "g", 1) != 1) fail("clone", errno, "release container");
  close(go[1]);

  char msg[1024];
  int master = -1, started = 0, execing = 0;
  while (!started) {
    int fd = -1;
    ssize_t n = recv_msg(sock[0], msg, sizeof msg, &fd);
    if (n <= 0) {
      /* EOF right after "exec": the close-on-exec socket went with a successful execve.
       * Otherwise C died during setup; its exit status tells the rest. */
      if (execing) { clock_gettime(CLOCK_REALTIME, &started_at); status_line("started"); started = 1; }
      break;
    }
    if (!strcmp(msg, "pty")) master = fd;
    else if (!strcmp(msg, "exec")) execing = 1;
    else if (!strcmp(msg, "started")) { clock_gettime(CLOCK_REALTIME, &started_at); status_line("started"); started = 1; }
    else { execing = 0; write_all(status_fd, msg, strlen(msg)); if (msg[strlen(msg) - 1] != '\n') status_line("%s", ""); }
  }
  quiet_stdio(master >= 0);
  int st = monitor(c, master, ctl, &sigs);
  int code = exit_code_of(st), sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
  fcntl(sock[0], F_SETFL, O_NONBLOCK);
  while (recv_msg(sock[0], msg, sizeof msg, NULL) > 0)
    sscanf(msg, "exit %d %d", &code, &sig);   /* C knows whether W exited or was killed */
  write_exit_file(code, sig);
  status_line("exit %d %d", code, sig);
  return code;
}

/* ---------- exec ---------- */

static int exec_in_container(const struct spec *s, struct control *ctl) {
  static const struct { const char *name; int type; } namespaces[] = {
    {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS}, {"net", CLONE_NEWNET},
    {"pid", CLONE_NEWPID}, {"cgroup", CLONE_NEWCGROUP}, {"mnt", CLONE_NEWNS},
  };
  enum { NNS = sizeof namespaces / sizeof namespaces[0] };
  int nsfd[NNS];
  char path[64];
  if (s->target_pid <= 0) fail("spec", EINVAL, "exec needs pid=");
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);   /* CVE-2016-9962: no ptrace while holding host fds */
  for (int i = 0; i < NNS; i++) {
    snprintf(path, sizeof path, "/proc/%d/ns/%s", s->target_pid, namespaces[i].name);
    if ((nsfd[i] = open(path, O_RDONLY | O_CLOEXEC)) < 0) fail("namespace", errno, "open %s", path);
  }
  snprintf(path, sizeof path, "/proc/%d/root", s->target_pid);
  int rootfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) fail("namespace", errno, "open %s", path);
  join_cgroups(s, getpid());
  for (int i = 0; i < NNS; i++) {
    if (setns(nsfd[i], namespaces[i].type) < 0) fail("namespace", errno, "setns %s", namespaces[i].name);
    close(nsfd[i]);
  }
  /* setns(mnt) put us at the namespace root; the container's root may differ (chroot fallback). */
  if (fchdir(rootfd) < 0 || chroot(".") < 0 || chdir("/") < 0) fail("namespace", errno, "enter root");
  close(rootfd);
  int master = s->pty ? open_pty_master() : -1;
  int sock[2];
  sigset_t sigs;
  if (pipe2(sock, O_CLOEXEC) < 0) fail("clone", errno, "pipe");
  block_signals(&sigs);
  pid_t x = fork();   /* the child lands in the target pid namespace */
  if (x < 0) fail("clone", errno, "fork");
  if (x == 0) { close(sock[0]); become_workload(s, sock[1], master, 0); }
  close(sock[1]);
  status_line("pid %d", x);
  char msg[1024];
  if (await_exec(sock[0], msg, sizeof msg) > 0) {
    int st;
    write_all(status_fd, msg, strlen(msg));
    waitpid(x, &st, 0);
    status_line("exit %d 0", exit_code_of(st));
    return exit_code_of(st);
  }
  close(sock[0]);
  status_line("started");
  quiet_stdio(master >= 0);
  int st = monitor(x, master, ctl, &sigs);
  status_line("exit %d %d", exit_code_of(st), WIFSIGNALED(st) ? WTERMSIG(st) : 0);
  return exit_code_of(st);
}

/* ---------- main ---------- */

/* Detached containers outlive the caller: the final status also goes to a file a new agent can read. */
static const char *exit_file = NULL;

/* ISO 8601 in UTC with milliseconds, as JavaScript's toISOString(). */
static void iso_time(const struct timespec *t, char *buf, size_t size) {
  struct tm tm;
  char base[32];
  gmtime_r(&t->tv_sec, &tm);
  strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf, size, "%.20s.%03dZ", base, (int)(t->tv_nsec / 1000000) % 1000);
}

static void write_exit_file(int code, int sig) {
  if (!exit_file) return;
  char tmp[PATH_MAX], line[192], started[40], finished[40];
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  iso_time(started_at.tv_sec ? &started_at : &now, started, sizeof started);
  iso_time(&now, finished, sizeof finished);
  snprintf(tmp, sizeof tmp, "%s.tmp", exit_file);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  int n = snprintf(line, sizeof line, "{\"exitCode\":%d,\"signal\":%d,\"startedAt\":\"%s\",\"finishedAt\":\"%s\"}\n",
                   code, sig, started, finished);
  write_all(fd, line, (size_t)n);
  fsync(fd);
  close(fd);
  rename(tmp, exit_file);
}

/* ---------- fsop: privileged file operations Node cannot do (layer store, overlay mounts) ---------- */

static int hexval(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Prints (NUL-terminated) the paths below dirfd, relative to the walk's start, of directories an
 * overlay marked opaque. Node cannot read xattrs; one process per upper dir instead of one per dir. */
static int print_opaque_dirs(int fd, char *rel, size_t len) {
  char value[2];
  if (fgetxattr(fd, "trusted.overlay.opaque", value, sizeof value) == 1 && value[0] == 'y') {
    fwrite(len ? rel : ".", 1, (len ? len : 1) + 1, stdout);
  }
  DIR *dir = fdopendir(fd);
  if (!dir) { close(fd); return -1; }
  int rc = 0;
  for (struct dirent *e; (e = readdir(dir));) {
    if (e->d_type != DT_DIR || !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    size_t n = strlen(e->d_name);
    if (len + 1 + n + 1 > PATH_MAX) { rc = -1; errno = ENAMETOOLONG; break; }
    size_t at = len;
    if (len) rel[at++] = '/';
    memcpy(rel + at, e->d_name, n + 1);
    int sub = openat(dirfd(dir), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0 || print_opaque_dirs(sub, rel, at + n) < 0) { rc = -1; break; }
    rel[len] = 0;
  }
  closedir(dir);
  return rc;
}

static int fsop(int argc, char **argv) {
  const char *op = argc > 2 ? argv[2] : "";
  if (!strcmp(op, "mknod") && argc == 8) {
    mode_t type = !strcmp(argv[4], "char") ? S_IFCHR : !strcmp(argv[4], "block") ? S_IFBLK : !strcmp(argv[4], "fifo") ? S_IFIFO : 0;
    if (!type) { fprintf(stderr, "fsop mknod: bad kind %s\n", argv[4]); return 2; }
    mode_t mode = (mode_t)strtoul(argv[5], NULL, 8) & 07777;
    dev_t dev = makedev((unsigned)strtoul(argv[6], NULL, 10), (unsigned)strtoul(argv[7], NULL, 10));
    if (mknod(argv[3], type | mode, dev) < 0) { fprintf(stderr, "mknod %s: %s\n", argv[3], strerror(errno)); return 1; }
    if (chmod(argv[3], mode) < 0) { fprintf(stderr, "chmod %s: %s\n", argv[3], strerror(errno)); return 1; }
    return 0;
  }
  if (!strcmp(op, "setxattr") && argc == 6) {
    size_t len = strlen(argv[5]) / 2;
    unsigned char *value = malloc(len + 1);
    for (size_t i = 0; i < len; i++) {
      int hi = hexval(argv[5][2 * i]), lo = hexval(argv[5][2 * i + 1]);
      if (hi < 0 || lo < 0) { fprintf(stderr, "fsop setxattr: bad hex\n"); return 2; }
      value[i] = (unsigned char)(hi * 16 + lo);
    }
    if (lsetxattr(argv[3], argv[4], value, len, 0) < 0) { fprintf(stderr, "lsetxattr %s: %s\n", argv[3], strerror(errno)); return 1; }
    return 0;
  }
  if (!strcmp(op, "overlay") && argc == 7) {   /* overlay TARGET LOWERS UPPER WORK */
    char opts[8192];
    int n = snprintf(opts, sizeof opts, "lowerdir=%s,upperdir=%s,workdir=%s", argv[4], argv[5], argv[6]);
    if (n >= (int)sizeof opts) { fprintf(stderr, "overlay options too long\n"); return 2; }
    if (mount("overlay", argv[3], "overlay", MS_NODEV, opts) < 0) { fprintf(stderr, "mount overlay %s: %s\n", argv[3], strerror(errno)); return 1; }
    return 0;
  }
  if (!strcmp(op, "bind") && argc == 5) {   /* bind SOURCE TARGET (copy-fallback root) */
    if (mount(argv[3], argv[4], NULL, MS_BIND, NULL) < 0) { fprintf(stderr, "bind %s: %s\n", argv[4], strerror(errno)); return 1; }
    return 0;
  }
  if (!strcmp(op, "umount") && argc == 4) {
    if (umount2(argv[3], MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT) { fprintf(stderr, "umount %s: %s\n", argv[3], strerror(errno)); return 1; }
    return 0;
  }
  if (!strcmp(op, "opaque-dirs") && argc == 4) {   /* opaque-dirs UPPER */
    char rel[PATH_MAX] = "";
    int fd = open(argv[3], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || print_opaque_dirs(fd, rel, 0) < 0) { fprintf(stderr, "opaque-dirs %s: %s\n", argv[3], strerror(errno)); return 1; }
    return fflush(stdout) == 0 ? 0 : 1;
  }
  if (!strcmp(op, "devices") && argc >= 4) {   /* devices CGROUP2_DIR RULE... (v1 syntax, e.g. "c 1:3 rwm") */
    char err[512];
    if (muelle_attach_device_filter(argv[3], argv + 4, argc - 4, err, sizeof err) < 0) { fprintf(stderr, "%s\n", err); return 1; }
    return 0;
  }
  fprintf(stderr, "usage: fsop devices CGROUP2_DIR RULE... | opaque-dirs UPPER | mknod PATH char|block|fifo MODE MAJOR MINOR | setxattr PATH NAME HEX | overlay TARGET LOWERS UPPER WORK | bind SRC DST | umount TARGET\n");
  return 2;
}

/* seccomp-check: compiles the seccomp_* lines of the spec on stdin without running anything and
 * prints `unknown <syscall>` for each name libseccomp does not know, then `instructions <n>`. */
static void print_unknown(const char *name) { printf("unknown %s\n", name); }

/* seccomp-bpf: the same, but writes the compiled filter (struct sock_filter[]) to stdout. */
static int seccomp_bpf(void) {
  struct spec s;
  char err[512];
  read_spec(&s, 0);
  void *filter = muelle_seccomp_compile(&s.seccomp, NULL, err, sizeof err);
  if (!filter) { fprintf(stderr, "%s\n", err); return 1; }
  int rc = muelle_seccomp_export(filter, 1);
  if (rc < 0) { fprintf(stderr, "export: %s\n", strerror(-rc)); return 1; }
  return 0;
}

static int seccomp_check(void) {
  struct spec s;
  char err[512];
  read_spec(&s, 0);
  void *filter = muelle_seccomp_compile(&s.seccomp, print_unknown, err, sizeof err);
  if (!filter) { fprintf(stderr, "%s\n", err); return 1; }
  printf("instructions %ld\n", muelle_seccomp_size(filter));
  return fflush(stdout) == 0 ? 0 : 1;
}

static int fd_arg(const char *v) {
  return (int)parse_number("fd", v, INT_MAX);
}

int main(int argc, char **argv) {
  int spec_fd = -1;
  const char *spec_path = NULL;
  struct control ctl = { .fd = -1 };
  const char *log_dir = NULL, *stdin_fifo = NULL;
  unsigned long long log_max_bytes = 0;
  int log_max_files = 0;
  main_argv = argv;
  main_argc = argc;
  if (argc >= 2 && !strcmp(argv[1], "fsop")) return fsop(argc, argv);
  if (argc == 2 && !strcmp(argv[1], "seccomp-check")) return seccomp_check();
  if (argc == 2 && !strcmp(argv[1], "seccomp-bpf")) return seccomp_bpf();
  if (argc < 2 || (strcmp(argv[1], "run") && strcmp(argv[1], "exec"))) {
    fprintf(stderr, "usage: %s run|exec [--spec-fd N | --spec PATH] [--status-fd N] [--control-fd N]\n", argv[0]);
    return 2;
  }
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--spec-fd")) spec_fd = fd_arg(argv[i + 1]);
    else if (!strcmp(argv[i], "--spec")) spec_path = argv[i + 1];
    else if (!strcmp(argv[i], "--status-fd")) status_fd = fd_arg(argv[i + 1]);
    else if (!strcmp(argv[i], "--control-fd")) ctl.fd = fd_arg(argv[i + 1]);
    else if (!strcmp(argv[i], "--exit-file")) exit_file = argv[i + 1];
    else if (!strcmp(argv[i], "--log-dir")) log_dir = argv[i + 1];
    else if (!strcmp(argv[i], "--log-max-bytes")) log_max_bytes = parse_number("log-max-bytes", argv[i + 1], ULONG_MAX);
    else if (!strcmp(argv[i], "--log-max-files")) log_max_files = (int)parse_number("log-max-files", argv[i + 1], 1000);
    else if (!strcmp(argv[i], "--stdin-hold")) stdin_fifo = argv[i + 1];
    else { fprintf(stderr, "unknown option %s\n", argv[i]); return 2; }
  }
  /* A status fd among 0-2 (manual use) moves aside so the workload keeps its stdio. */
  if (status_fd <= 2) status_fd = fcntl(status_fd, F_DUPFD_CLOEXEC, 3);
  report_fd = status_fd;
  signal(SIGPIPE, SIG_IGN);   /* a vanished caller must not kill the container's monitor */
  if ((host_devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) fail("spec", errno, "open /dev/null");
  if (spec_path && (spec_fd = open(spec_path, O_RDONLY | O_CLOEXEC)) < 0) fail("spec", errno, "open %s", spec_path);
  if (spec_fd < 0) fail("spec", EINVAL, "give --spec-fd or --spec");
  if (log_dir) {
    int rc = muelle_output_open(log_dir, log_max_bytes, log_max_files);
    if (rc < 0) fail("spec", -rc, "open output log in %s", log_dir);
  }
  /* The caller holds the FIFO open while we start, so this open finds a reader and does not block. */
  if (stdin_fifo && (stdin_hold = open(stdin_fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC)) < 0)
    fail("spec", errno, "open %s", stdin_fifo);
  struct spec s;
  read_spec(&s, spec_fd);
  close(spec_fd);
  compile_seccomp(&s);
  /* Our own descriptors must not reach the container; the workload closes all the others. */
  fcntl(status_fd, F_SETFD, FD_CLOEXEC);
  if (ctl.fd >= 0) fcntl(ctl.fd, F_SETFD, FD_CLOEXEC);
  return !strcmp(argv[1], "run") ? run_container(&s, &ctl) : exec_in_container(&s, &ctl);
}
