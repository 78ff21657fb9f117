/*
 * output-log.c: the container's output, written by its monitor (H) so that it is captured while
 * no agent runs. Files `output.log`, rotated to `output.log.1..N-1` (oldest removed) once the
 * next record would pass max_bytes. A record is a 16-byte header and the bytes as read:
 *   byte 0 stream (1 stdout, 2 stderr), bytes 1-3 zero, bytes 4-7 payload length (LE),
 *   bytes 8-15 CLOCK_REALTIME of the read in nanoseconds (LE).
 * Writes are synchronous: while the disk is slow the monitor does not read, the pipe fills and
 * the container blocks on it, as with Docker. A failed write (disk full) is cut back to the
 * last whole record so the file stays readable; the bytes are dropped, the container goes on.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "isolate.h"

#define HEADER 16
#define CHUNK 65536

static struct {
  int dir, fd, max_files;
  unsigned long long size, max_bytes;
  unsigned char record[HEADER + CHUNK];
} out = { .dir = -1, .fd = -1 };

static int open_current(void) {
  struct stat st;
  out.fd = openat(out.dir, "output.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (out.fd < 0) return -errno;
  out.size = fstat(out.fd, &st) == 0 ? (unsigned long long)st.st_size : 0;
  return 0;
}

int muelle_output_open(const char *dir, unsigned long long max_bytes, int max_files) {
  out.dir = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (out.dir < 0) return -errno;
  out.max_bytes = max_bytes ? max_bytes : 10485760ULL;
  out.max_files = max_files > 0 ? max_files : 1;
  return open_current();
}

static void rotate(void) {
  char from[32], to[32];
  close(out.fd);
  if (out.max_files <= 1) {
    unlinkat(out.dir, "output.log", 0);
  } else {
    snprintf(to, sizeof to, "output.log.%d", out.max_files - 1);
    unlinkat(out.dir, to, 0);
    for (int n = out.max_files - 2; n >= 1; n--) {
      snprintf(from, sizeof from, "output.log.%d", n);
      snprintf(to, sizeof to, "output.log.%d", n + 1);
      renameat(out.dir, from, out.dir, to);
    }
    renameat(out.dir, "output.log", out.dir, "output.log.1");
  }
  if (open_current() < 0) out.fd = -1;
}

static void append(int stream, size_t len) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
  unsigned char *h = out.record;
  memset(h, 0, HEADER);
  h[0] = (unsigned char)stream;
  for (int i = 0; i < 4; i++) h[4 + i] = (unsigned char)(len >> (8 * i));
  for (int i = 0; i < 8; i++) h[8 + i] = (unsigned char)(ns >> (8 * i));
  if (out.fd >= 0 && out.size > 0 && out.size + HEADER + len > out.max_bytes) rotate();
  if (out.fd < 0 && open_current() < 0) return;
  size_t total = HEADER + len, done = 0;
  while (done < total) {
    ssize_t n = write(out.fd, out.record + done, total - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) { if (ftruncate(out.fd, (off_t)out.size) < 0) {} return; }
    done += (size_t)n;
  }
  out.size += total;
}

int muelle_output_pump(int fd, int stream) {
  ssize_t n = read(fd, out.record + HEADER, CHUNK);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
  if (n <= 0) return -1;
  append(stream, (size_t)n);
  return 1;
}

int muelle_output_enabled(void) {
  return out.dir >= 0;
}
