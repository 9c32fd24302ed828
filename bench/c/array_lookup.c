// C baseline for the global-data figure of `npm run bench`: the syscall way
// to read a value of a global data map — BPF_MAP_LOOKUP_ELEM of key 0 of the
// map open on fd 3 (inherited from the bench), value_size bytes, then reading
// the u64 at `offset` of the value. Prints the best ns/op of `runs` runs.
//
// usage: array_lookup <value_size> <offset> <ops> <runs>

#define _GNU_SOURCE
#include <errno.h>
#include <linux/bpf.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define offsetofend(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))
#define ELEM_ATTR_SIZE offsetofend(union bpf_attr, flags)

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s <value_size> <offset> <ops> <runs>\n", argv[0]);
    return 2;
  }
  size_t value_size = strtoul(argv[1], NULL, 10);
  size_t offset = strtoul(argv[2], NULL, 10);
  long ops = strtol(argv[3], NULL, 10);
  int runs = atoi(argv[4]);
  if (offset + 8 > value_size || ops <= 0 || runs <= 0) {
    fprintf(stderr, "array_lookup: bad arguments\n");
    return 2;
  }
  uint8_t *value = calloc(1, value_size);
  uint64_t sink = 0;
  double best = 1e300;
  for (int r = 0; r < runs + 1; r++) { // run 0 warms up
    double t0 = now_ns();
    for (long i = 0; i < ops; i++) {
      uint32_t key = 0;
      union bpf_attr attr;
      memset(&attr, 0, ELEM_ATTR_SIZE);
      attr.map_fd = 3;
      attr.key = (uint64_t)(uintptr_t)&key;
      attr.value = (uint64_t)(uintptr_t)value;
      if (syscall(__NR_bpf, BPF_MAP_LOOKUP_ELEM, &attr, ELEM_ATTR_SIZE) != 0) {
        fprintf(stderr, "array_lookup: lookup: %s\n", strerror(errno));
        return 1;
      }
      uint64_t v;
      memcpy(&v, value + offset, 8);
      sink += v;
    }
    double ns = (now_ns() - t0) / (double)ops;
    if (r > 0 && ns < best) best = ns;
  }
  printf("{\"lookupNs\": %.1f, \"sink\": %llu}\n", best, (unsigned long long)sink);
  return 0;
}
