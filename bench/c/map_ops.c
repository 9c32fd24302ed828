// C baseline for the single-element map figures of `npm run bench`.
//
// Creates the same map the TypeScript side uses (BPF_MAP_TYPE_HASH, u32 key,
// u64 value), prefills it, then times BPF_MAP_LOOKUP_ELEM and
// BPF_MAP_UPDATE_ELEM issued straight through syscall(__NR_bpf, ...):
// `runs` timed runs of `ops` calls each after a warm-up, keys cycling over
// the prefilled ones. Prints one JSON object with the best (lowest) ns/op of
// each operation.
//
// usage: map_ops <entries> <ops> <runs>
// (`npm run bench` passes runs=1 and alternates C and TypeScript runs itself.)

#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

// Like libbpf: pass only the attr prefix the command uses.
#define offsetofend(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))
#define ELEM_ATTR_SIZE offsetofend(union bpf_attr, flags)

static long sys_bpf(int cmd, union bpf_attr *attr, unsigned int size) {
  return syscall(__NR_bpf, cmd, attr, size);
}

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

// CPU time of this process: unlike wall time, not inflated while other
// processes hold the CPU (the bench machine is shared).
static double cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void die(const char *what) {
  fprintf(stderr, "map_ops: %s: %s\n", what, strerror(errno));
  exit(1);
}

static int map_fd;

// Each op builds its attr the way libbpf's bpf_map_lookup_elem /
// bpf_map_update_elem do: the used prefix zeroed, the fields set, per call.
static int lookup(uint32_t key, uint64_t *value) {
  union bpf_attr attr;
  memset(&attr, 0, ELEM_ATTR_SIZE);
  attr.map_fd = map_fd;
  attr.key = (uint64_t)(uintptr_t)&key;
  attr.value = (uint64_t)(uintptr_t)value;
  return (int)sys_bpf(BPF_MAP_LOOKUP_ELEM, &attr, ELEM_ATTR_SIZE);
}

static int update(uint32_t key, uint64_t value) {
  union bpf_attr attr;
  memset(&attr, 0, ELEM_ATTR_SIZE);
  attr.map_fd = map_fd;
  attr.key = (uint64_t)(uintptr_t)&key;
  attr.value = (uint64_t)(uintptr_t)&value;
  attr.flags = BPF_ANY;
  return (int)sys_bpf(BPF_MAP_UPDATE_ELEM, &attr, ELEM_ATTR_SIZE);
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s <entries> <ops> <runs>\n", argv[0]);
    return 2;
  }
  uint32_t entries = (uint32_t)strtoul(argv[1], NULL, 10);
  long ops = strtol(argv[2], NULL, 10);
  int runs = atoi(argv[3]);
  if (entries == 0 || (entries & (entries - 1)) != 0 || ops <= 0 || runs <= 0) {
    fprintf(stderr, "map_ops: entries must be a power of two, ops and runs positive\n");
    return 2;
  }
  uint32_t mask = entries - 1;

  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.map_type = BPF_MAP_TYPE_HASH;
  attr.key_size = 4;
  attr.value_size = 8;
  attr.max_entries = entries;
  strncpy(attr.map_name, "bench_c", sizeof(attr.map_name) - 1);
  map_fd = (int)sys_bpf(BPF_MAP_CREATE, &attr, sizeof(attr));
  if (map_fd < 0) die("BPF_MAP_CREATE");

  for (uint32_t k = 0; k < entries; k++)
    if (update(k, (uint64_t)k * 3) != 0) die("prefill");

  uint64_t v = 0, sink = 0;
  // Warm-up: caches, branch predictors, the map's buckets.
  for (long i = 0; i < ops / 4; i++) {
    if (lookup((uint32_t)i & mask, &v) != 0) die("lookup");
    sink += v;
    if (update((uint32_t)i & mask, (uint64_t)i) != 0) die("update");
  }

  double best_lookup = 1e300, best_update = 1e300, cpu_lookup = 1e300, cpu_update = 1e300;
  for (int r = 0; r < runs; r++) {
    double c0 = cpu_ns(), t0 = now_ns();
    for (long i = 0; i < ops; i++) {
      if (lookup((uint32_t)i & mask, &v) != 0) die("lookup");
      sink += v;
    }
    double c1 = cpu_ns(), t1 = now_ns();
    for (long i = 0; i < ops; i++)
      if (update((uint32_t)i & mask, (uint64_t)i) != 0) die("update");
    double c2 = cpu_ns(), t2 = now_ns();
    double l = (t1 - t0) / (double)ops, u = (t2 - t1) / (double)ops;
    if (l < best_lookup) best_lookup = l;
    if (u < best_update) best_update = u;
    if ((c1 - c0) / (double)ops < cpu_lookup) cpu_lookup = (c1 - c0) / (double)ops;
    if ((c2 - c1) / (double)ops < cpu_update) cpu_update = (c2 - c1) / (double)ops;
  }
  close(map_fd);
  printf("{\"lookupNs\":%.2f,\"updateNs\":%.2f,\"lookupCpuNs\":%.2f,\"updateCpuNs\":%.2f,\"ops\":%ld,\"runs\":%d,\"sink\":%llu}\n",
         best_lookup, best_update, cpu_lookup, cpu_update, ops, runs, (unsigned long long)sink);
  return 0;
}
