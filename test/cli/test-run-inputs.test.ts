// `test-run --set NAME=VALUE` (globals before the load or the emulation) and
// `--entry MAP:KEY=VALUE` (map entries before the run), in the kernel and in
// the emulator. Expected verdicts follow from the C sources:
// lpm_blocklist.c drops IPv4 sources its trie holds (key: prefix length u32,
// then the address in network order); sock_addr_nat.c rewrites a connect to
// a service in services4 (struct addr4: address, then the port in network
// order) and sends from snat_src4; sock_create.c marks new sockets mark_with.

import { describe, expect, it } from 'vitest';
import { cli, cliOk, fixture } from '../helpers/cli.js';
import { udp } from '../helpers/packets.js';
import { describeRoot } from '../helpers/root.js';

const FROM_10_0_0_1 = udp({ src: '10.0.0.1', dport: 53 }).toString('hex');
/** blocklist: 10.0.0.0/24 (prefixlen 24 as a little-endian u32, then 10.0.0.0), counting 0. */
const BLOCK_10_0_0 = 'blocklist:180000000a000000=0000000000000000';

describe('test-run --emulate --set / --entry', () => {
  it('an entry in the trie drops the packet its absence passes; a service entry rewrites the connect; a global sets the source and the mark', async () => {
    const run = (...args: string[]) => cliOk('test-run', ...args, '--emulate');
    expect((await run(fixture('lpm_blocklist.o'), '--data-hex', FROM_10_0_0_1)).stdout).toMatch(/^xdp_blocklist: XDP_PASS /);
    expect((await run(fixture('lpm_blocklist.o'), '--data-hex', FROM_10_0_0_1, '--entry', BLOCK_10_0_0)).stdout).toMatch(/^xdp_blocklist: XDP_DROP /);
    const nat = await run(fixture('sock_addr_nat.o'), '--program', 'connect4', '--addr', 'tcp 10.0.0.1:80', '--entry', 'services4:0a00000100500000=7f0000011f900000');
    expect(nat.stdout).toMatch(/\naddress: 127\.0\.0\.1:8080 \(was 10\.0\.0\.1:80\)\n$/);
    const snat = await run(fixture('sock_addr_nat.o'), '--program', 'sendmsg4', '--addr', 'udp 10.0.0.9:53', '--set', 'snat_src4=0x0200007f');
    expect(snat.stdout).toMatch(/\naddress: 10\.0\.0\.9:53 \(unchanged\)\nsource: 127\.0\.0\.2 \(was the route's\)\n$/);
    const mark = await run(fixture('sock_create.o'), '--program', 'create', '--socket', 'tcp 0.0.0.0:0', '--set', 'mark_with=42', '--set', 'pin_tcp_to_lo=1');
    expect(mark.stdout).toMatch(/\nsocket: bound_dev_if 1, mark 0x2a, priority 0\n$/);
    const json = await run(fixture('sock_create.o'), '--program', 'create', '--socket', 'udp 0.0.0.0:0', '--set', 'mark_with=42', '--json');
    expect(json.json()).toMatchObject({ retval: 1, allowed: true, socket: { boundDevIf: 0, mark: 42, priority: 5 } });
    const denied = await run(fixture('sock_create.o'), '--program', 'create', '--socket', 'udp 0.0.0.0:0', '--set', 'deny_protocol=17', '--json');
    expect(denied.json()).toMatchObject({ retval: 0, allowed: false });
  });

  it('refuses in words: a malformed entry, a key of the wrong size, a global the object lacks', async () => {
    const fail = async (...args: string[]) => (await cli('test-run', fixture('lpm_blocklist.o'), '--data-hex', FROM_10_0_0_1, '--emulate', ...args)).stderr;
    expect(await fail('--entry', 'blocklist=1')).toBe('bpf-ts: --entry "blocklist=1": write it as MAP:KEY=VALUE, key and value in hex (e.g. services4:0a00000100500000=7f0000011f900000)\n');
    expect(await fail('--entry', 'blocklist:18000000=0000000000000000')).toBe("bpf-ts: emulated map blocklist: set: key is 4 bytes, the map's keys are 8\n");
    expect(await fail('--set', 'nothing=1')).toMatch(/^bpf-ts: .*nothing/);
  });
});

describeRoot('test-run --entry in the kernel', () => {
  it('the kernel drops what the entry blocks, as the emulator does', async () => {
    const run = (...more: string[]) => cliOk('test-run', fixture('lpm_blocklist.o'), '--data-hex', FROM_10_0_0_1, ...more);
    expect((await run()).stdout).toMatch(/^xdp_blocklist: XDP_PASS /);
    expect((await run('--entry', BLOCK_10_0_0)).stdout).toMatch(/^xdp_blocklist: XDP_DROP /);
  });
});
