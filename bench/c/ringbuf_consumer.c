// C baseline for the ring-buffer figure of `npm run bench`.
//
// The bench loads fixtures/ringbuf.o with bpf-ts and pins the `events` ring
// buffer and the `xdp_ringbuf` program on a private bpffs. This program opens
// both pins (BPF_OBJ_GET), maps the ring the way the kernel lays it out
// (kernel/bpf/ringbuf.c):
//
//   offset 0          one page, read-write: consumer_pos (u64)
//   offset pagesize   one page, read-only: producer_pos (u64), then the data
//                     area (max_entries bytes) mapped twice in a row, so a
//                     record that wraps is still contiguous
//
// and runs the producer/consumer loop the TypeScript side runs: one
// BPF_PROG_TEST_RUN of xdp_ringbuf with repeat = min(K, records left) (the
// program reserves and submits one 16-byte record {u64 seq; u32 len} per
// run), then drain the ring. Every record is read: seq must follow on from
// the previous one (no loss, in order) and len must be the 64-byte packet.
//
// Records: 8-byte header (u32 len, bit 31 BUSY = reserved but not committed,
// bit 30 DISCARD; u32 page offset), then the payload, padded to 8 bytes.
// Ordering as in libbpf's ring_buffer consumer: acquire loads of
// producer_pos and of each header, release store of consumer_pos after each
// record.
//
// usage: ringbuf_consumer <map pin> <prog pin> <records> <repeat K> <first seq> <warm-up records>
// Prints one JSON object: records, ns (the timed loop), and how the time
// splits between test-run syscalls and draining; lastSeq lets the caller
// continue the sequence check in its own next run.

#define _GNU_SOURCE
#include <errno.h>
#include <linux/bpf.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define offsetofend(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))

#define RB_BUSY_BIT (1U << 31)
#define RB_DISCARD_BIT (1U << 30)
#define RB_HDR_SZ 8U

#define PACKET_SIZE 64
// Same output room the TypeScript testRun() asks for: data + 256 bytes of headroom.
#define PACKET_OUT_SIZE (PACKET_SIZE + 256)
#define XDP_PASS_RETVAL 2

static long sys_bpf(int cmd, union bpf_attr *attr, unsigned int size) {
  return syscall(__NR_bpf, cmd, attr, size);
}

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void die(const char *what) {
  fprintf(stderr, "ringbuf_consumer: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void fail(const char *fmt, unsigned long long a, unsigned long long b) {
  fprintf(stderr, "ringbuf_consumer: ");
  fprintf(stderr, fmt, a, b);
  fputc('\n', stderr);
  exit(1);
}

static int obj_get(const char *path) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.pathname = (uint64_t)(uintptr_t)path;
  int fd = (int)sys_bpf(BPF_OBJ_GET, &attr, offsetofend(union bpf_attr, file_flags));
  if (fd < 0) die(path);
  return fd;
}

// ------------------------------------------------------------------ ring

struct ring {
  uint64_t *consumer_pos; // RW page
  const uint64_t *producer_pos; // RO page, data follows one page later
  const uint8_t *data;
  uint64_t mask;
  size_t page;
  size_t size;
};

static void ring_open(struct ring *r, int map_fd) {
  struct bpf_map_info info;
  union bpf_attr attr;
  memset(&info, 0, sizeof(info));
  memset(&attr, 0, sizeof(attr));
  attr.info.bpf_fd = (uint32_t)map_fd;
  attr.info.info_len = sizeof(info);
  attr.info.info = (uint64_t)(uintptr_t)&info;
  if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr, offsetofend(union bpf_attr, info)) != 0) die("BPF_OBJ_GET_INFO_BY_FD");
  if (info.type != BPF_MAP_TYPE_RINGBUF) fail("map type %llu, expected RINGBUF (%llu)", info.type, BPF_MAP_TYPE_RINGBUF);

  r->page = (size_t)sysconf(_SC_PAGESIZE);
  r->size = info.max_entries;
  r->mask = info.max_entries - 1;
  void *c = mmap(NULL, r->page, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
  if (c == MAP_FAILED) die("mmap consumer page");
  void *p = mmap(NULL, r->page + 2 * r->size, PROT_READ, MAP_SHARED, map_fd, (off_t)r->page);
  if (p == MAP_FAILED) die("mmap producer page + data");
  r->consumer_pos = c;
  r->producer_pos = p;
  r->data = (const uint8_t *)p + r->page;
}

static void ring_close(struct ring *r) {
  munmap((void *)r->producer_pos, r->page + 2 * r->size);
  munmap(r->consumer_pos, r->page);
}

static uint64_t expect_seq;

// Drain every committed record; returns how many were handed over.
static long ring_consume(struct ring *r) {
  long n = 0;
  uint64_t cons = __atomic_load_n(r->consumer_pos, __ATOMIC_ACQUIRE);
  for (;;) {
    uint64_t prod = __atomic_load_n(r->producer_pos, __ATOMIC_ACQUIRE);
    if (cons >= prod) break;
    int progressed = 0;
    while (cons < prod) {
      const uint8_t *hdr = r->data + (cons & r->mask);
      uint32_t len = __atomic_load_n((const uint32_t *)hdr, __ATOMIC_ACQUIRE);
      if (len & RB_BUSY_BIT) break;
      uint32_t size = len & ~(RB_BUSY_BIT | RB_DISCARD_BIT);
      if (!(len & RB_DISCARD_BIT)) {
        const uint8_t *rec = hdr + RB_HDR_SZ;
        uint64_t seq;
        uint32_t plen;
        if (size < 12) fail("record of %llu bytes, expected %llu", size, 16);
        memcpy(&seq, rec, 8);
        memcpy(&plen, rec + 8, 4);
        if (seq != expect_seq) fail("seq %llu, expected %llu (lost or reordered records)", seq, expect_seq);
        if (plen != PACKET_SIZE) fail("record len %llu, expected %llu", plen, PACKET_SIZE);
        expect_seq++;
        n++;
      }
      cons += (size + RB_HDR_SZ + 7) & ~7U;
      progressed = 1;
      __atomic_store_n(r->consumer_pos, cons, __ATOMIC_RELEASE);
    }
    if (!progressed) break;
  }
  return n;
}

// ------------------------------------------------------------------ producer

static uint8_t packet[PACKET_SIZE];
static uint8_t packet_out[PACKET_OUT_SIZE];

static void test_run(int prog_fd, uint32_t repeat) {
  union bpf_attr attr;
  memset(&attr, 0, offsetofend(union bpf_attr, test));
  attr.test.prog_fd = (uint32_t)prog_fd;
  attr.test.data_in = (uint64_t)(uintptr_t)packet;
  attr.test.data_size_in = PACKET_SIZE;
  attr.test.data_out = (uint64_t)(uintptr_t)packet_out;
  attr.test.data_size_out = PACKET_OUT_SIZE;
  attr.test.repeat = repeat;
  if (sys_bpf(BPF_PROG_TEST_RUN, &attr, offsetofend(union bpf_attr, test)) != 0) die("BPF_PROG_TEST_RUN");
  if (attr.test.retval != XDP_PASS_RETVAL) fail("xdp_ringbuf returned %llu, expected XDP_PASS (%llu)", attr.test.retval, XDP_PASS_RETVAL);
}

struct totals {
  double run_ns, consume_ns;
  // Per drain: consume ns per record (the median is robust to preemption on a loaded host).
  double *per_record;
  long drains;
};

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void loop(struct ring *r, int prog_fd, long records, uint32_t repeat, struct totals *t) {
  for (long left = records; left > 0;) {
    uint32_t k = left < (long)repeat ? (uint32_t)left : repeat;
    double t0 = now_ns();
    test_run(prog_fd, k);
    double t1 = now_ns();
    long n = ring_consume(r);
    double t2 = now_ns();
    if (n != (long)k) fail("drained %llu records after a test run of repeat %llu", (unsigned long long)n, k);
    left -= n;
    if (t) {
      t->run_ns += t1 - t0;
      t->consume_ns += t2 - t1;
      t->per_record[t->drains++] = (t2 - t1) / (double)n;
    }
  }
}

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: %s <map pin> <prog pin> <records> <repeat> <first seq> <warm-up records>\n", argv[0]);
    return 2;
  }
  long records = strtol(argv[3], NULL, 10);
  long repeat = strtol(argv[4], NULL, 10);
  expect_seq = strtoull(argv[5], NULL, 10);
  long warmup = strtol(argv[6], NULL, 10);
  if (records <= 0 || repeat <= 0 || repeat > UINT32_MAX || warmup < 0) {
    fprintf(stderr, "ringbuf_consumer: records and repeat must be positive, warm-up not negative\n");
    return 2;
  }
  memset(packet, 0xab, sizeof(packet));

  int map_fd = obj_get(argv[1]);
  int prog_fd = obj_get(argv[2]);
  struct ring r;
  ring_open(&r, map_fd);
  if ((uint64_t)repeat * (RB_HDR_SZ + 16) > r.size) fail("repeat %llu overflows a %llu-byte ring", repeat, r.size);

  // Anything left over from before (there should be nothing): not ours to check.
  uint64_t cons = __atomic_load_n(r.consumer_pos, __ATOMIC_ACQUIRE);
  uint64_t prod = __atomic_load_n(r.producer_pos, __ATOMIC_ACQUIRE);
  if (cons != prod) fail("ring not empty at start: consumer_pos %llu, producer_pos %llu", cons, prod);

  loop(&r, prog_fd, warmup, (uint32_t)repeat, NULL);

  struct totals t = {0, 0, calloc((size_t)(records / repeat + 2), sizeof(double)), 0};
  if (!t.per_record) die("calloc");
  double t0 = now_ns();
  loop(&r, prog_fd, records, (uint32_t)repeat, &t);
  double ns = now_ns() - t0;

  ring_close(&r);
  close(prog_fd);
  close(map_fd);
  qsort(t.per_record, (size_t)t.drains, sizeof(double), cmp_double);
  double median = t.per_record[t.drains / 2];
  free(t.per_record);
  printf("{\"records\":%ld,\"ns\":%.0f,\"testRunNs\":%.0f,\"consumeNs\":%.0f,\"consumeMedianNs\":%.3f,\"lastSeq\":%llu}\n",
         records, ns, t.run_ns, t.consume_ns, median, (unsigned long long)(expect_seq - 1));
  return 0;
}
