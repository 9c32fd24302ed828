// Netlink dumps as big as real hosts make them: one namespace holding 60 veth
// pairs (both ends inside it), every device with a 40+ character altname, so
// each dump (links, qdiscs, filters) spans many datagrams. XDP in skb and
// native mode (netlink and bpf_link) sits on a few devices, clsact cls_bpf
// filters and tcx links on others. `bpf-ts show --json --netns` and the
// library's list functions must list exactly those, checked against
// iproute2's own `ip -d -j link show` and `tc -j filter show`, and the
// kernel's fdinfo for tcx links. Then `show` in the root namespace, read-only.
//
// Nothing is sent anywhere; the namespace is unique per run and removed in
// afterAll even when a test fails.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { attachTc, listTc } from '../../src/attach/tc.js';
import { attachTcx, listTcx, type TcxLink } from '../../src/attach/tcx.js';
import { attachXdp, attachXdpLink, listXdp, type XdpLink } from '../../src/attach/xdp.js';
import { loadObject, type BpfCollection } from '../../src/collection.js';
import { dumpAddressesV4 } from '../../src/netlink/addr.js';
import { dumpLinks, type Link } from '../../src/netlink/link.js';
import { dumpNeighboursV4 } from '../../src/netlink/neigh.js';
import { NetlinkSocket } from '../../src/netlink/socket.js';
import { createNetns, deleteNetns, netnsExists, netnsPath, withNetns } from '../../src/netns.js';
import { cliOk, cliProcess, ensureDist, fixture, uniqueName } from '../helpers/cli.js';
import { describeRoot } from '../helpers/root.js';

const PAIRS = 60;
const XDP_PROG = 'prog_xdp_custom_name';
const TC_PROG = 'prog_tc';
const TCX_PROG = 'prog_tcx_ingress';

/** iproute2's IFLA_XDP_ATTACHED numbers in `ip -j` output. */
const IP_XDP_MODE: Record<number, string> = { 1: 'native', 2: 'skb', 3: 'hw' };

/** Parse a sequence of JSON documents written back to back (what `tc -j -batch` prints). */
function jsonSequence(text: string): unknown[] {
  const out: unknown[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '[' || c === '{') {
      if (depth++ === 0) start = i;
    } else if (c === ']' || c === '}') {
      if (--depth === 0) out.push(JSON.parse(text.slice(start, i + 1)));
    }
  }
  return out;
}

describeRoot(`netlink dumps over many datagrams (${PAIRS} veth pairs with long altnames)`, () => {
  const run = uniqueName('dm');
  const ns = `${run}-many`;
  const dev = (i: number, end: 'a' | 'b') => `d${i}${end}`;
  const altname = (i: number, end: 'a' | 'b') => `bpf-ts-dump-test-${run}-alternative-name-of-pair-${i}-end-${end}`;
  const ipOf = (i: number, end: 'a' | 'b') => `10.100.${i}.${end === 'a' ? 1 : 2}`;
  const macOf = (i: number, end: 'a' | 'b') => `02:64:6d:00:${i.toString(16).padStart(2, '0')}:0${end === 'a' ? 1 : 2}`;

  let coll: BpfCollection | undefined;
  const xdpLinks: XdpLink[] = [];
  const tcxLinks: TcxLink[] = [];
  let xdpId = 0;
  let tcId = 0;
  let tcxId = 0;

  const inNs = (cmd: string[], input?: string): string =>
    execFileSync('nsenter', [`--net=${netnsPath(ns)}`, '--', ...cmd], { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  const ipLinks = (): any[] => JSON.parse(inNs(['ip', '-d', '-j', 'link', 'show']));
  const ifindexOf = (name: string): number => {
    const l = ipLinks().find((x) => x.ifname === name);
    if (!l) throw new Error(`${name} not in ${ns}`);
    return l.ifindex;
  };

  // What is attached where (device names), decided here and checked against iproute2 below.
  const XDP_NETLINK = [
    { name: dev(1, 'a'), mode: 'skb' },
    { name: dev(7, 'b'), mode: 'skb' },
    { name: dev(33, 'a'), mode: 'skb' },
    { name: dev(59, 'b'), mode: 'skb' },
    { name: dev(2, 'a'), mode: 'native' },
    { name: dev(8, 'b'), mode: 'native' },
    { name: dev(45, 'a'), mode: 'native' },
  ] as const;
  const XDP_LINK = [
    { name: dev(3, 'a'), mode: 'skb' },
    { name: dev(4, 'b'), mode: 'native' },
  ] as const;
  const TC = [
    { name: dev(10, 'a'), direction: 'ingress', priority: 1, handle: 1 },
    { name: dev(10, 'a'), direction: 'egress', priority: 2, handle: 1 },
    { name: dev(11, 'b'), direction: 'ingress', priority: 1, handle: 1 },
    { name: dev(50, 'a'), direction: 'egress', priority: 7, handle: 3 },
    { name: dev(59, 'b'), direction: 'ingress', priority: 1, handle: 1 },
  ] as const;
  const TCX = [
    { name: dev(20, 'a'), direction: 'ingress' },
    { name: dev(21, 'b'), direction: 'egress' },
    { name: dev(55, 'a'), direction: 'ingress' },
    { name: dev(55, 'a'), direction: 'egress' },
    { name: dev(59, 'b'), direction: 'egress' },
  ] as const;

  beforeAll(() => {
    if (netnsExists(ns)) throw new Error(`namespace ${ns} already exists`);
    createNetns(ns);
    // No IPv6 autoconfiguration work for 120 new devices.
    inNs(['sysctl', '-q', '-w', 'net.ipv6.conf.default.disable_ipv6=1', 'net.ipv6.conf.all.disable_ipv6=1']);
    const batch: string[] = ['link set lo up'];
    for (let i = 0; i < PAIRS; i++) {
      batch.push(`link add ${dev(i, 'a')} type veth peer name ${dev(i, 'b')}`);
      for (const end of ['a', 'b'] as const) batch.push(`link property add dev ${dev(i, end)} altname ${altname(i, end)}`);
    }
    for (let i = 0; i < PAIRS; i++) for (const end of ['a', 'b'] as const) batch.push(`link set ${dev(i, end)} up`);
    // An address and a permanent neighbour (the other end) on every device: the address and neighbour dumps span datagrams too.
    for (let i = 0; i < PAIRS; i++) {
      for (const [end, peer] of [
        ['a', 'b'],
        ['b', 'a'],
      ] as const) {
        batch.push(`addr add ${ipOf(i, end)}/24 dev ${dev(i, end)}`);
        batch.push(`neigh replace ${ipOf(i, peer)} lladdr ${macOf(i, peer)} nud permanent dev ${dev(i, end)}`);
      }
    }
    inNs(['ip', '-batch', '-'], batch.join('\n') + '\n');

    coll = loadObject(fixture('sections.o'), { programs: [XDP_PROG, TC_PROG, TCX_PROG] });
    const fd = (name: string) => coll!.program(name).fd.value;
    for (const x of XDP_NETLINK) attachXdp({ iface: x.name, netns: ns, progFd: fd(XDP_PROG), mode: x.mode });
    for (const x of XDP_LINK) xdpLinks.push(attachXdpLink({ iface: x.name, netns: ns, progFd: fd(XDP_PROG), mode: x.mode }));
    for (const t of TC) attachTc({ iface: t.name, netns: ns, direction: t.direction, progFd: fd(TC_PROG), priority: t.priority, handle: t.handle });
    for (const t of TCX) tcxLinks.push(attachTcx({ iface: t.name, netns: ns, direction: t.direction, progFd: fd(TCX_PROG) }));
    xdpId = coll.program(XDP_PROG).id;
    tcId = coll.program(TC_PROG).id;
    tcxId = coll.program(TCX_PROG).id;
  });

  afterAll(() => {
    try {
      for (const l of [...xdpLinks, ...tcxLinks]) l.close();
      coll?.close();
    } finally {
      deleteNetns(ns, { force: true });
    }
    expect(netnsExists(ns)).toBe(false);
  });

  it('the namespace really is as big as intended: 121 devices, every veth with its long altname', () => {
    const links = ipLinks();
    expect(links).toHaveLength(2 * PAIRS + 1);
    for (let i = 0; i < PAIRS; i++) {
      for (const end of ['a', 'b'] as const) {
        expect(links.find((l) => l.ifname === dev(i, end))?.altnames).toEqual([altname(i, end)]);
        expect(altname(i, end).length).toBeGreaterThanOrEqual(40);
      }
    }
  });

  it('dumpLinks lists exactly the ifindex/name pairs `ip -j link show` lists, each once', () => {
    const expected = ipLinks()
      .map((l) => `${l.ifindex}:${l.ifname}`)
      .sort();
    const links: Link[] = withNetns(ns, () => {
      using sock = NetlinkSocket.open();
      return dumpLinks(sock);
    });
    expect(links.map((l) => `${l.ifindex}:${l.ifname}`).sort()).toEqual(expected);
    expect(links.map((l) => `${l.ifindex}:${l.ifname}`)).toContain('1:lo');
  });

  it('dumpAddressesV4 lists exactly the IPv4 addresses `ip -j -4 addr show` lists', () => {
    const expected = (JSON.parse(inNs(['ip', '-j', '-4', 'addr', 'show'])) as any[]).flatMap((l) => l.addr_info.map((a: any) => `${l.ifindex}:${a.local}/${a.prefixlen}:${a.label}`)).sort();
    expect(expected).toHaveLength(2 * PAIRS + 1); // and 127.0.0.1 on lo
    const got = withNetns(ns, () => {
      using sock = NetlinkSocket.open();
      return dumpAddressesV4(sock);
    });
    expect(got.map((a) => `${a.ifindex}:${a.address}/${a.prefixlen}:${a.label}`).sort()).toEqual(expected);
    const d7b = ifindexOf(dev(7, 'b'));
    expect(
      withNetns(ns, () => {
        using sock = NetlinkSocket.open();
        return dumpAddressesV4(sock, d7b);
      }),
    ).toEqual([{ ifindex: d7b, address: ipOf(7, 'b'), prefixlen: 24, label: dev(7, 'b') }]);
  });

  it('dumpNeighboursV4 lists exactly the entries `ip -j -4 neigh show` lists', () => {
    const index = new Map(ipLinks().map((l) => [l.ifname as string, l.ifindex as number]));
    const fromIp = (JSON.parse(inNs(['ip', '-j', '-4', 'neigh', 'show'])) as any[]).map((n) => `${index.get(n.dev)}:${n.dst}:${n.lladdr}:${n.state.join(',')}`).sort();
    expect(fromIp).toHaveLength(2 * PAIRS);
    const got = withNetns(ns, () => {
      using sock = NetlinkSocket.open();
      return dumpNeighboursV4(sock);
    });
    expect(got.map((n) => `${n.ifindex}:${n.address}:${n.mac}:${n.state === 0x80 ? 'PERMANENT' : n.state}`).sort()).toEqual(fromIp);
  });

  /** The XDP slots iproute2 reports, as show prints them. */
  const ipXdp = () =>
    ipLinks()
      .filter((l) => l.xdp)
      .flatMap((l) => (l.xdp.attached ?? [l.xdp]).map((a: any) => ({ interface: l.ifname, ifindex: l.ifindex, mode: IP_XDP_MODE[a.mode], progId: a.prog.id })))
      .sort((x: any, y: any) => x.ifindex - y.ifindex);

  it('listXdp and `show --json` list exactly the XDP programs `ip -d -j link show` reports', async () => {
    const fromIp = ipXdp();
    // iproute2 agrees with what this file attached.
    expect(fromIp.map((x: any) => `${x.interface}/${x.mode}/${x.progId}`).sort()).toEqual([...XDP_NETLINK, ...XDP_LINK].map((x) => `${x.name}/${x.mode}/${xdpId}`).sort());

    const lib = listXdp({ netns: ns }).flatMap((s) => s.programs.map((p) => ({ interface: s.ifname, ifindex: s.ifindex, mode: p.mode, progId: p.progId })));
    expect(lib.sort((x, y) => x.ifindex - y.ifindex)).toEqual(fromIp);

    const shown = (await cliOk('show', '--json', '--netns', ns)).json();
    expect(shown.netns).toBe(ns);
    expect(shown.xdp.map((r: any) => ({ interface: r.interface, ifindex: r.ifindex, mode: r.mode, progId: r.progId })).sort((x: any, y: any) => x.ifindex - y.ifindex)).toEqual(fromIp);
    const linkOf = new Map(xdpLinks.map((l) => [l.ifname, l.id]));
    for (const r of shown.xdp) {
      expect(r.name).toBe('prog_xdp_custom'); // BPF_OBJ_NAME_LEN: 15 characters kept
      expect(r.link).toBe(linkOf.has(r.interface));
      if (linkOf.has(r.interface)) expect(r.linkId).toBe(linkOf.get(r.interface));
    }
  });

  /** Every cls_bpf filter on every device, read by `tc -j filter show` (one batch). */
  const tcFilters = () => {
    const names = ipLinks().map((l) => l.ifname as string);
    const cmds = names.flatMap((n) => [`filter show dev ${n} ingress`, `filter show dev ${n} egress`]);
    const docs = jsonSequence(inNs(['tc', '-j', '-batch', '-'], cmds.join('\n') + '\n')) as any[][];
    expect(docs).toHaveLength(cmds.length);
    return docs.flatMap((entries, i) =>
      entries
        .filter((e) => e.kind === 'bpf' && e.options?.handle !== undefined)
        .map((e) => ({
          interface: names[i >> 1]!,
          direction: i % 2 ? 'egress' : 'ingress',
          priority: e.pref as number,
          handle: Number(e.options.handle),
          progId: e.options.prog?.id as number,
        })),
    );
  };
  const key = (f: { interface: string; direction: string; priority: number | null; handle: number | null; progId: number | null }) =>
    `${f.interface}/${f.direction}/${f.priority}/${f.handle}/${f.progId}`;

  it('listTc and `show --json` list exactly the cls_bpf filters `tc -j filter show` reports', async () => {
    const fromTc = tcFilters().map(key).sort();
    expect(fromTc).toEqual(TC.map((t) => key({ interface: t.name, direction: t.direction, priority: t.priority, handle: t.handle, progId: tcId })).sort());
    expect(
      listTc({ netns: ns })
        .map((f) => key({ interface: f.ifname, direction: f.direction, priority: f.priority, handle: f.handle, progId: f.progId ?? null }))
        .sort(),
    ).toEqual(fromTc);
    const shown = (await cliOk('show', '--json', '--netns', ns)).json();
    expect(
      shown.tc
        .filter((r: any) => r.priority !== null)
        .map(key)
        .sort(),
    ).toEqual(fromTc);
  });

  it('listTcx and `show --json` list exactly the tcx links, as the kernel describes them in fdinfo', async () => {
    // The kernel's own account of each link: /proc/self/fdinfo of its fd.
    const fromKernel = tcxLinks.map((l) => {
      const info = Object.fromEntries(
        readFileSync(`/proc/self/fdinfo/${l.fd.value}`, 'utf8')
          .split('\n')
          .map((line) => line.split(':\t'))
          .filter((kv) => kv.length === 2),
      );
      expect(info.link_type).toBe('tcx');
      const ifindex = Number(info.ifindex);
      // "46 (ingress)": BPF_TCX_INGRESS is 46, BPF_TCX_EGRESS 47.
      const direction = ({ 46: 'ingress', 47: 'egress' } as Record<number, string>)[parseInt(info.attach_type, 10)];
      expect(info.attach_type).toBe(`${parseInt(info.attach_type, 10)} (${direction})`);
      const name = ipLinks().find((x) => x.ifindex === ifindex)!.ifname as string;
      return { interface: name, ifindex, direction, progId: Number(info.prog_id), linkId: Number(info.link_id) };
    });
    expect(fromKernel.map((t) => `${t.interface}/${t.direction}/${t.progId}`).sort()).toEqual(TCX.map((t) => `${t.name}/${t.direction}/${tcxId}`).sort());
    const expected = fromKernel.map((t) => `${t.interface}/${t.ifindex}/${t.direction}/${t.progId}/${t.linkId}`).sort();

    expect(
      listTcx({ netns: ns })
        .map((t) => `${t.ifname}/${t.ifindex}/${t.direction}/${t.progId}/${t.linkId}`)
        .sort(),
    ).toEqual(expected);
    const shown = (await cliOk('show', '--json', '--netns', ns)).json();
    const tcx = shown.tc.filter((r: any) => r.priority === null);
    expect(tcx.map((r: any) => `${r.interface}/${r.ifindex}/${r.direction}/${r.progId}/${r.linkId}`).sort()).toEqual(expected);
    expect(tcx.every((r: any) => r.link === true && r.name === 'prog_tcx_ingres')).toBe(true);
    expect(ifindexOf(dev(55, 'a'))).toBe(fromKernel.find((t) => t.interface === dev(55, 'a'))!.ifindex);
  });

  it('`show --all --json --netns` lists every device of the namespace once, as `ip -j link show` does, with its program counts', async () => {
    const shown = (await cliOk('show', '--all', '--json', '--netns', ns)).json();
    const links = ipLinks();
    expect(shown.interfaces.map((i: any) => `${i.ifindex}:${i.interface}`).sort()).toEqual(links.map((l) => `${l.ifindex}:${l.ifname}`).sort());
    const xdp = ipXdp();
    const filters = tcFilters();
    const count = (name: string) => ({
      xdp: xdp.filter((x: any) => x.interface === name).length,
      tc: filters.filter((f) => f.interface === name).length + TCX.filter((t) => t.name === name).length,
    });
    for (const i of shown.interfaces) expect({ name: i.interface, xdp: i.xdp, tc: i.tc }).toEqual({ name: i.interface, ...count(i.interface) });
    expect(shown.interfaces.find((i: any) => i.interface === dev(59, 'b'))).toMatchObject({ xdp: 1, tc: 2 });
  });
});

describeRoot('bpf-ts show in the root namespace (read-only)', () => {
  beforeAll(() => ensureDist(), 900_000);

  const ipSet = (): string[] => (JSON.parse(execFileSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8' })) as any[]).map((l) => `${l.ifindex}:${l.ifname}`).sort();

  it('exits 0, and its interface list is the set `ip -j link show` reports', async () => {
    // Other work on this host may add or remove devices meanwhile: compare
    // against a listing that did not change across our own.
    let last = '';
    for (let attempt = 0; attempt < 5; attempt++) {
      const before = ipSet();
      const r = await cliProcess(['show', '--all', '--json'], { timeoutMs: 60_000 });
      const after = ipSet();
      last = after.join(' ');
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const shown = (r.json().interfaces as any[]).map((i) => `${i.ifindex}:${i.interface}`).sort();
      if (JSON.stringify(before) !== JSON.stringify(after)) continue;
      expect(shown).toEqual(before);
      expect(shown).toContain('1:lo');
      return;
    }
    throw new Error(`the root namespace kept changing while show ran; last listing:\n${last}`);
  });

  it('plain `show` exits 0 with no error output', async () => {
    const r = await cliProcess(['show'], { timeoutMs: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});
