// One line of help for every option of every command, with its default and
// the group it is listed under. Kept apart from the parseArgs specs so a
// command's options stay a plain parseArgs table; test/cli/help.test.ts fails
// when an option has no line here (so a new option cannot ship undocumented).
// Options with the same meaning everywhere are described once, in COMMON.

import type { Command } from './command.js';

export interface OptionHelp {
  /** Placeholder for the value ("IFACE"); none for boolean options. */
  arg?: string;
  desc: string;
  /** What applies when the option is not given. */
  default?: string;
  /** Heading it is listed under in `COMMAND --help`. */
  group?: string;
}

const WHERE = 'where to attach';
const OUT = 'output';

/** Options every command takes (main.ts adds them to each parse). */
export const GLOBAL_HELP: Record<string, OptionHelp> = {
  json: { desc: 'print one JSON document instead of text', group: OUT },
  debug: { desc: 'print the stack trace of an error', group: OUT },
  help: { desc: 'show this help', group: OUT },
};

const COMMON: Record<string, OptionHelp> = {
  netns: { arg: 'NAME', desc: 'network namespace the interface is in (name under /var/run/netns, or a path)', default: 'the current namespace', group: WHERE },
  bpffs: { arg: 'DIR', desc: 'bpf filesystem for pins', default: '/sys/fs/bpf', group: 'pins' },
  program: { arg: 'NAME', desc: 'the program to use when the object has several', default: 'the only one that fits', group: 'program' },
  set: { arg: 'NAME=VALUE', desc: 'set a global variable (.data/.rodata/.bss) before loading; repeatable', group: 'program' },
  mode: { arg: 'MODE', desc: 'XDP mode: native, skb, hw or auto', default: 'native', group: WHERE },
  xdp: { arg: 'IFACE', desc: 'attach to the XDP hook of this interface', group: WHERE },
  tc: { arg: 'IFACE', desc: 'attach to the TC hook (clsact, or tcx with --link) of this interface', group: WHERE },
  direction: { arg: 'DIR', desc: 'TC direction: ingress or egress', default: 'ingress, or what the section says', group: 'tc' },
  priority: { arg: 'N', desc: 'cls_bpf filter priority (1…65535)', default: '1', group: 'tc' },
  handle: { arg: 'N', desc: 'cls_bpf filter handle', default: '1', group: 'tc' },
  cgroup: { arg: 'PATH', desc: 'cgroup v2 directory (absolute, or relative to the cgroup2 mount)', group: WHERE },
  'attach-type': { arg: 'TYPE', desc: 'cgroup hook by bpftool name (ingress, sock_ops, connect4, …)', default: 'what the section says', group: 'cgroup' },
  'sk-msg': { arg: 'MAP', desc: 'sockmap/sockhash (pin path or id:N) for an sk_msg program', group: WHERE },
  'program-id': { arg: 'N', desc: 'only the program with this kernel id', default: 'every program on the hook', group: 'cgroup' },
  interval: { arg: 'SECONDS', desc: 'seconds between counter prints', default: '1', group: OUT },
  'event-type': { arg: '[MAP=]STRUCT', desc: 'BTF struct to decode ring/perf buffer events with', default: 'from the map or program BTF', group: OUT },
  count: { arg: 'N', desc: 'how many rounds before exiting', group: 'run' },
  'max-entries': { arg: 'MAP=N', desc: "set a map's max_entries before it is created; repeatable", default: "the object's definition", group: 'program' },
  'ignore-memory-limit': { desc: 'create maps whose estimated memory exceeds what is available', default: 'refuse them', group: 'program' },
  name: { arg: 'NAME', desc: 'test network name (namespaces <name>-a/<name>-b); teardown, status and exec need it', default: 'setup picks a free one and prints it', group: 'test network' },
};

const OWN: Record<string, Record<string, OptionHelp>> = {
  load: {
    netfilter: {
      arg: 'FAMILY:HOOK',
      desc: "hook the object's netfilter program into this family (ipv4, ipv6) and hook (prerouting, input, forward, output, postrouting), through a pinned bpf_link",
      group: WHERE,
    },
    priority: { arg: 'N', desc: "TC: cls_bpf filter priority (1…65535); netfilter: the hook priority (iptables' filter table is 0)", default: '1 (TC), 0 (netfilter)', group: 'tc' },
    'sk-msg-program': { arg: 'NAME', desc: 'the sk_msg program to attach to --sk-msg', default: 'the only sk_msg program', group: 'cgroup' },
    'pin-maps': { arg: 'DIR', desc: 'also pin every map of the object under DIR', group: 'pins' },
    replace: { desc: 'replace the program already attached (else refuse)', group: WHERE },
    link: { desc: 'attach through a bpf_link (XDP, tcx, cgroup) pinned on bpffs', default: 'netlink / clsact / BPF_PROG_ATTACH', group: WHERE },
    'pin-link': { arg: 'PATH', desc: 'where to pin the link made by --link', default: 'under <bpffs>/bpf-ts/', group: 'pins' },
    'pin-links': {
      arg: 'DIR',
      desc: 'attach every tracing program where its section says and register every struct_ops map; pin the links (a struct_ops map registered by its update: the map) under DIR',
      group: WHERE,
    },
  },
  detach: {
    mode: { arg: 'MODE', desc: 'only the program in this XDP mode (native, skb, hw)', default: 'every mode', group: WHERE },
    direction: { arg: 'DIR', desc: 'only this TC direction', default: 'both', group: 'tc' },
    priority: { arg: 'N', desc: 'only the filter at this priority (with --handle)', default: 'every filter bpf-ts can see', group: 'tc' },
    handle: { arg: 'N', desc: 'only the filter with this handle (with --priority)', group: 'tc' },
    'remove-qdisc': { desc: 'also remove the clsact qdisc when it is left empty', group: 'tc' },
    'attach-type': { arg: 'TYPE', desc: 'only this cgroup hook', default: 'every hook', group: 'cgroup' },
    links: { arg: 'DIR', desc: 'detach and unpin the links `load --pin-links DIR` pinned, and unregister the struct_ops maps pinned there', group: WHERE },
    'pin-link': { arg: 'PATH', desc: 'detach the link pinned at PATH and remove the pin', group: WHERE },
  },
  show: {
    netns: { arg: 'NAME', desc: 'show the interfaces of this network namespace', default: 'the current namespace', group: WHERE },
    cgroup: { arg: 'PATH', desc: 'show the programs on this cgroup instead of interfaces', group: WHERE },
    effective: { desc: 'with --cgroup: include programs inherited from ancestors', group: 'cgroup' },
    tree: { desc: 'with --cgroup: also every cgroup under it, each with its programs (like bpftool cgroup tree)', group: 'cgroup' },
    all: { desc: 'also list every interface, with how many XDP and TC programs it has', group: OUT },
  },
  run: {
    socket: { arg: 'IFACE', desc: "attach the object's socket filter to a packet socket on this interface (every frame it receives and sends)", group: WHERE },
    netfilter: {
      arg: 'FAMILY:HOOK',
      desc: "hook the object's netfilter program into this family (ipv4, ipv6) and hook (prerouting, input, forward, output, postrouting) of the namespace",
      group: WHERE,
    },
    priority: { arg: 'N', desc: "with --netfilter: the hook's priority among netfilter's (iptables' filter table is 0)", default: '0', group: WHERE },
    duration: { arg: 'SECONDS', desc: 'exit after this long', default: 'until Ctrl-C', group: 'run' },
    netlink: { desc: 'attach XDP through netlink instead of a bpf_link', default: 'bpf_link', group: WHERE },
  },
  demo: {
    count: { arg: 'N', desc: 'ICMP echo requests to send', default: '10', group: 'run' },
    mode: { arg: 'MODE', desc: 'XDP mode: native or skb (veths have no hw mode)', default: 'native', group: WHERE },
  },
  inspect: {
    'max-size': { arg: 'BYTES', desc: 'read objects up to this size (K/M/G suffixes)', default: '256M', group: 'input' },
  },
  'test-run': {
    type: {
      arg: 'TYPE',
      desc: "program type when the section does not say (xdp or tc), or of an --asm file's program (xdp, tc, socket_filter, …)",
      default: 'the section, else xdp',
      group: 'program',
    },
    'data-hex': { arg: 'HEX', desc: 'input packet as hex (at least an Ethernet header, 14 bytes)', group: 'program' },
    'ctx-hex': {
      arg: 'HEX',
      desc: "the program's context as hex: a syscall program's argument struct, a raw tracepoint's or struct_ops program's u64 arguments (the only input these take), or an XDP/TC program's xdp_md/__sk_buff; printed again after the run when it changed",
      default: 'none',
      group: 'program',
    },
    lookup: {
      arg: "'PROTO SRC:PORT -> DST:PORT'",
      desc: "a sk_lookup program's input: the lookup a packet from SRC to DST (tcp or udp; IPv6 in brackets, [2001:db8::1]:443) makes; the socket it chooses is printed by cookie",
      group: 'program',
    },
    addr: {
      arg: "'PROTO ADDR:PORT [from SRC]'",
      desc: "with --emulate: a cgroup sock_addr program's input: the address a call (connect, bind, sendmsg, recvmsg, getpeername…) of a tcp or udp socket was given or returns (IPv6 in brackets; 'from SRC', sendmsg's source); the address the program leaves, or EPERM, is printed",
      group: 'program',
    },
    sysctl: {
      arg: "'NAME[=VALUE]'",
      desc: "with --emulate: a cgroup sysctl program's input: a read of /proc/sys/NAME (net.ipv4.ip_forward or net/ipv4/ip_forward), or with =VALUE a write of VALUE and a newline, as echo VALUE > /proc/sys/NAME makes; whether the call goes on, the value a write goes on with and the file position are printed",
      group: 'program',
    },
    'sysctl-current': {
      arg: 'TEXT',
      desc: "with --sysctl: the file's current value as the program reads it (a newline is added, as the file reads)",
      default: 'what /proc/sys/NAME reads on this machine (none when it cannot be read)',
      group: 'program',
    },
    device: {
      arg: "'char|block MAJOR:MINOR ACCESS'",
      desc: "with --emulate: a cgroup device program's input: an open of a device node for reading (r), writing (w) or both (rw), or its mknod (m); whether the call goes on is printed",
      group: 'program',
    },
    'sock-ops': {
      arg: "'OP [args A,B,…] [request] [state S] [skb HEX] [tcp_flags N] [room N] [syn HEX] [FIELD N]…'",
      desc: "with --emulate: a sock_ops program's input, a TCP event on the --socket: the op by BPF_SOCK_OPS_* name or number (ACTIVE_ESTABLISHED_CB, TIMEOUT_INIT, 4), its args (RTO_CB: retransmits, rto, expired; STATE_CB: old and new state), request (on a request socket: a SYN not answered yet), state (sk_state during the call; default the op's), skb (the segment's bytes from its TCP header, which skb_data shows) and tcp_flags, room (the header option space: HDR_OPT_LEN_CB's left, default 40; WRITE_HDR_OPT_CB's reserved), syn (the SYN's TCP header), and the tcp_sock fields the program reads by their struct bpf_sock_ops names (snd_cwnd 10, srtt_us 800, data_segs_out 0); the program's reply, what tcp_call_bpf returns, the header option space it reserved or the options it wrote, and the options and fields it set on the socket are printed",
      group: 'program',
    },
    sockopt: {
      arg: "'LEVEL OPTNAME [VALUE] [size N] [error ERRNO]'",
      desc: "with --emulate: a cgroup sockopt program's input: the option by name or number (SOL_SOCKET SO_MARK, SOL_TCP TCP_CONGESTION, 1 36) and a value — an int (42), str:TEXT or hex:BYTES — that is the caller's for setsockopt and the kernel's answer for getsockopt (size N: the caller's buffer; error ERRNO: the kernel's own getsockopt failed); what the kernel's setsockopt is called with, or what the getsockopt caller gets, is printed",
      group: 'program',
    },
    repeat: { arg: 'N', desc: 'run the program N times (counters grow by N)', default: '1', group: 'program' },
    set: { arg: 'NAME=VALUE', desc: 'set a global (.data, .bss, .rodata) before the load or the emulation: decimal, 0x hex, true or false; repeatable', group: 'program' },
    entry: { arg: 'MAP:KEY=VALUE', desc: "write a map entry (key and value as hex bytes) before the run, in the kernel's map or the emulator's; repeatable", group: 'program' },
    socket: {
      arg: "'[MAP[KEY]=]PROTO ADDR:PORT'",
      desc: "with --emulate: a socket of the emulated host, which bpf_sk_lookup_tcp/udp find (tcp listens, udp is bound; '-> PEER:PORT' connects it; add reuseport or v6only), put in slot KEY of a SOCKMAP or SOCKHASH when MAP[KEY]= is given; a cgroup sock program's one socket (port 0: not bound yet), a sock_ops program's TCP socket; repeatable",
      default: 'no sockets',
      group: 'emulator',
    },
    arg: {
      arg: 'N',
      desc: "a tracing program's next argument, a u64 (decimal, -1 or 0x hex; repeat for each): a raw tracepoint's ctx->args[i], and with --emulate the parameters BPF_PROG reads (tp_btf, fentry, fexit, fmod_ret, lsm) or a kprobe's PT_REGS_PARM1..6 (x86-64 registers)",
      default: 'none',
      group: 'program',
    },
    ret: { arg: 'N', desc: "with --emulate: the traced function's return value, after the arguments (fexit, fmod_ret, lsm; a kretprobe's PT_REGS_RC)", default: '0', group: 'emulator' },
    asm: {
      arg: 'FILE',
      desc: 'assembler text (conformance-suite or verifier syntax) or a bpf_conformance .data file: with --type, a program run on --data-hex by the kernel (or --emulate); with --emulate alone, on --mem-hex',
      group: 'emulator',
    },
    emulate: { desc: 'run in the built-in emulator instead of the kernel (no root)', default: 'the kernel (BPF_PROG_TEST_RUN)', group: 'emulator' },
    'mem-hex': { arg: 'HEX', desc: "with --asm: the memory r1 points to (replaces the file's -- mem)", group: 'emulator' },
    budget: { arg: 'N', desc: 'with --emulate: instructions before giving up', default: '1000000', group: 'emulator' },
    trace: { desc: 'with --emulate: print every executed instruction, the registers it changed and its C line', group: 'emulator' },
  },
  feature: {
    helpers: { desc: 'also list the helpers each program type may call (a probe per type and helper: about a second)', default: 'types and features only', group: OUT },
  },
  map: {
    key: { arg: 'HEX', desc: 'key bytes as hex (lookup, update, delete)', group: 'entry' },
    value: { arg: 'HEX', desc: 'value bytes as hex (update)', group: 'entry' },
    flags: { arg: 'FLAGS', desc: 'update flags: any, noexist or exist, optionally with lock (exist,lock)', default: 'any', group: 'entry' },
    set: { arg: 'NAME=VALUE', desc: 'update: set this member of a value its BTF describes (a struct, or .data/.bss), keeping the others; repeatable', group: 'entry' },
    hex: { desc: 'dump, lookup: keys and values as hex bytes only, even where the map\'s BTF describes them (--json: no "formatted")', default: 'decoded through BTF when the map has it', group: OUT },
  },
  prog: {
    netns: { arg: 'NAME', desc: 'show: the network namespace whose interfaces are searched for the program (XDP and TC)', default: 'the current namespace', group: 'show' },
  },
  pins: {
    prune: { desc: "remove the pins of links that hold nothing any more (never map or program pins, never another user's)", group: 'pins' },
  },
  link: {
    bpffs: { arg: 'DIR', desc: 'detach id:N: the bpf filesystem searched for pins of the link, removed once it is detached', default: '/sys/fs/bpf', group: 'pins' },
  },
  btf: {
    type: { arg: 'NAME', desc: 'dump only this type (and what it refers to)', default: 'every named type', group: 'dump' },
    base: { arg: 'BTF_FILE', desc: 'base BTF for a split BTF file (e.g. a module against vmlinux)', group: 'dump' },
    target: { arg: 'BTF_FILE', desc: 'resolve CO-RE relocations against this BTF', default: '/sys/kernel/btf/vmlinux', group: 'core' },
  },
  testenv: {
    side: { arg: 'a|b', desc: 'exec: the namespace to run the command in', default: 'a', group: 'test network' },
  },
  top: {
    interval: { arg: 'SECONDS', desc: 'seconds between refreshes', default: '1', group: OUT },
    count: { arg: 'N', desc: 'refreshes before exiting', default: 'until Ctrl-C', group: OUT },
    sort: { arg: 'KEY', desc: 'sort by cpu, runs, avg, id or name', default: 'cpu', group: OUT },
    limit: { arg: 'N', desc: 'show at most N programs', default: 'all', group: OUT },
  },
  gen: {
    out: { arg: 'FILE.ts', desc: 'write the module here', default: 'stdout', group: OUT },
    embed: { desc: 'embed the object bytes in the module', default: 'load the object from its path', group: OUT },
    'event-type': { arg: 'STRUCT', desc: 'also generate a decoder for this event struct; repeatable', group: OUT },
    runtime: { arg: 'MODULE', desc: 'module the generated code imports its runtime from', default: 'bpf-ts', group: OUT },
  },
};

/** The help line of `option` of command `cmd`, or undefined when it has none. */
export function optionHelp(cmd: string, option: string): OptionHelp | undefined {
  return OWN[cmd]?.[option] ?? COMMON[option] ?? GLOBAL_HELP[option];
}

/** `bpf-ts COMMAND --help`: usage, summary, then every option by group with its default. */
export function commandHelp(cmd: Command): string {
  const groups = new Map<string, string[]>();
  const names = [...Object.keys(cmd.options), ...Object.keys(GLOBAL_HELP)];
  const rows = names.map((name) => {
    const spec = cmd.options[name] ?? { type: 'boolean' as const };
    const h = optionHelp(cmd.name, name) ?? { desc: '(undocumented)' };
    const short = spec.short ? `-${spec.short}, ` : '';
    const flag = `${short}--${name}${h.arg ? ` ${h.arg}` : ''}`;
    const dflt = h.default ? ` (default: ${h.default})` : '';
    return { group: h.group ?? 'options', flag, text: `${h.desc}${dflt}` };
  });
  const width = Math.min(32, Math.max(...rows.map((r) => r.flag.length)) + 2);
  for (const r of rows) {
    const list = groups.get(r.group) ?? [];
    list.push(`  ${r.flag.padEnd(width)}${r.flag.length >= width ? '\n  ' + ' '.repeat(width) : ''}${r.text}`);
    groups.set(r.group, list);
  }
  // The generic output group last, as ip/bpftool put OPTIONS at the end.
  const order = [...groups.keys()].sort((a, b) => Number(a === OUT) - Number(b === OUT));
  return [`usage: ${cmd.usage}`, cmd.summary, '', ...order.flatMap((g) => [`${g}:`, ...groups.get(g)!, ''])].join('\n');
}

/** The option reference of docs/cli.md (`bpf-ts help --all`): every option of every command. */
export function optionsReference(commands: readonly Command[]): string {
  const out: string[] = [];
  for (const cmd of commands) {
    out.push(`### bpf-ts ${cmd.name}${cmd.aliases?.length ? ` (alias ${cmd.aliases.join(', ')})` : ''}`, '', cmd.summary + '.', '');
    const names = Object.keys(cmd.options);
    if (names.length === 0) out.push('No options besides `--json`, `--debug`, `--help`.', '');
    else {
      out.push('| option | meaning | default |', '|---|---|---|');
      for (const name of names) {
        const h = optionHelp(cmd.name, name);
        out.push(`| \`--${name}${h?.arg ? ` ${h.arg}` : ''}\` | ${(h?.desc ?? '').replace(/\|/g, '\\|')} | ${(h?.default ?? '').replace(/\|/g, '\\|')} |`);
      }
      out.push('');
    }
  }
  out.push('Every command also takes `--json` (one JSON document on stdout), `--debug` (stack trace on errors) and `--help`.');
  return out.join('\n');
}
