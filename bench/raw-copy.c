/*
 * The restore's I/O without snapvisor (bench/restore.ts --ceiling): THREADS threads each take the
 * next line "CHUNK_FILE OFFSET LENGTH" of LIST, read the whole chunk file with O_DIRECT, and write
 * LENGTH bytes at OFFSET of OUT with O_DIRECT (no decompression, no hashing); OUT is truncated to
 * the end of the last slot first and fsynced at the end. With PREALLOC=1 in the environment, the
 * written ranges are fallocated first.
 *
 *   cc -O2 -o raw-copy bench/raw-copy.c -lpthread && ./raw-copy LIST OUT THREADS
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct item {
  char path[512];
  long off, len;
};

static struct item *items;
static int count, next_item, out;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void fail(const char *what, const char *on) {
  perror(what);
  fprintf(stderr, "on %s\n", on);
  exit(1);
}

static void *lane(void *arg) {
  (void)arg;
  void *buf;
  if (posix_memalign(&buf, 4096, 8 << 20)) fail("posix_memalign", "lane");
  memset(buf, 1, 8 << 20);
  for (;;) {
    pthread_mutex_lock(&lock);
    int i = next_item++;
    pthread_mutex_unlock(&lock);
    if (i >= count) break;
    int fd = open(items[i].path, O_RDONLY | O_DIRECT);
    struct stat st;
    if (fd < 0 || fstat(fd, &st)) fail("open", items[i].path);
    long span = (st.st_size + 4095) & ~4095L;
    for (long done = 0; done < st.st_size;) {
      long n = pread(fd, (char *)buf + done, span - done, done);
      if (n <= 0) fail("pread", items[i].path);
      done += n;
    }
    close(fd);
    for (long done = 0; done < items[i].len;) {
      long n = pwrite(out, (char *)buf + done, items[i].len - done, items[i].off + done);
      if (n <= 0) fail("pwrite", "output");
      done += n;
    }
  }
  free(buf);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: raw-copy LIST OUT THREADS\n");
    return 2;
  }
  FILE *list = fopen(argv[1], "r");
  if (!list) fail("fopen", argv[1]);
  size_t cap = 1024;
  items = malloc(cap * sizeof *items);
  long end = 0;
  while (fscanf(list, "%511s %ld %ld", items[count].path, &items[count].off, &items[count].len) == 3) {
    if (items[count].off + items[count].len > end) end = items[count].off + items[count].len;
    if ((size_t)++count == cap) items = realloc(items, (cap *= 2) * sizeof *items);
  }
  int threads = atoi(argv[3]);
  out = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT, 0644);
  if (out < 0 || ftruncate(out, end)) fail("open", argv[2]);
  if (getenv("PREALLOC"))
    for (int i = 0; i < count; i++)
      if (fallocate(out, 0, items[i].off, items[i].len)) fail("fallocate", argv[2]);
  pthread_t t[64];
  for (int i = 0; i < threads && i < 64; i++) pthread_create(&t[i], NULL, lane, NULL);
  for (int i = 0; i < threads && i < 64; i++) pthread_join(t[i], NULL);
  if (fsync(out)) fail("fsync", argv[2]);
  close(out);
  return 0;
}
