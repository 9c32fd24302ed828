// bpf-ts/testing: scaffolding for tests of BPF programs, kept out of the main
// entry. A test network of two namespaces joined by a veth pair, ICMP echo
// through it, and running code inside a network namespace.

export { setupTestEnv, teardownTestEnv, statusTestEnv, testEnvNames, type TestEnv, type TestEnvStatus, type TestEnvSideStatus } from './testenv.js';
export { ping, type PingResult, type PingOptions } from './net/icmp.js';
export { withNetns } from './netns.js';
export type { Link as NetlinkLink, LinkXdp as NetlinkLinkXdp } from './netlink/link.js';
