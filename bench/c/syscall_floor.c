// The cheapest syscall from C, for bench/koffi-variants.js: CPU ns per
// syscall(SYS_getppid) (no work in the kernel beyond entry and exit), so the
// cost koffi adds around a kernel entry can be told apart from the cost of
// the bpf() command itself.
//
// usage: syscall_floor <ops>   prints {"getppidCpuNs": n}

#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
  long ops = argc == 2 ? strtol(argv[1], NULL, 10) : 0;
  if (ops <= 0) {
    fprintf(stderr, "usage: %s <ops>\n", argv[0]);
    return 2;
  }
  long sink = 0;
  for (long i = 0; i < ops / 4; i++) sink += syscall(SYS_getppid);
  double c0 = cpu_ns();
  for (long i = 0; i < ops; i++) sink += syscall(SYS_getppid);
  double c1 = cpu_ns();
  printf("{\"getppidCpuNs\":%.2f,\"sink\":%ld}\n", (c1 - c0) / (double)ops, sink & 1);
  return 0;
}
