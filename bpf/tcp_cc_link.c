// tcp_cc_link.c - tcp_cc.c's congestion control in ".struct_ops.link": the
// map is created with BPF_F_LINK and registered through a bpf_link, which
// unregisters it when closed.
#define STRUCT_OPS_SEC ".struct_ops.link"
#include "tcp_cc.c"
