// Every command the CLI knows, in the order --help lists them. Only the name,
// aliases and summary live here: a command's module (and what it imports —
// the object parser, BTF, koffi) is imported when that command runs, so
// `bpf-ts --help` and `bpf-ts inspect` start without loading the others.
// test/cli/lazy-commands.test.ts checks these summaries against the modules.
import type { Command } from '../command.js';

export interface CommandEntry {
  name: string;
  aliases?: string[];
  summary: string;
  /** Import the command's module. */
  load(): Promise<Command>;
}

export const commands: CommandEntry[] = [
  {
    name: 'demo',
    summary: 'set up a test network, attach the ICMP even-sequence dropper, ping, report, clean up (needs root, or CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_BPF, CAP_NET_RAW)',
    load: async () => (await import('./demo.js')).demo,
  },
  {
    name: 'load',
    summary: 'load an object and attach it: XDP, TC (clsact or tcx), cgroup, sk_msg, netfilter, tracing, struct_ops (stays attached)',
    load: async () => (await import('./load.js')).load,
  },
  {
    name: 'detach',
    aliases: ['unload'],
    summary: 'detach XDP, TC (clsact filters and tcx), cgroup or sk_msg programs (alias: unload)',
    load: async () => (await import('./detach.js')).detach,
  },
  {
    name: 'show',
    summary: 'list interfaces with XDP and TC programs: hook, program id and name, link or netlink',
    load: async () => (await import('./show.js')).show,
  },
  {
    name: 'run',
    summary: 'attach in the foreground (XDP, a socket filter on a packet socket, a netfilter hook, tracing, struct_ops), print counters every interval and events and frames live, detach on Ctrl-C',
    load: async () => (await import('./run.js')).run,
  },
  {
    name: 'inspect',
    summary: 'list the programs and maps of a BPF object (no root needed)',
    load: async () => (await import('./inspect.js')).inspect,
  },
  {
    name: 'test-run',
    summary: 'run a program once on a packet with BPF_PROG_TEST_RUN and print its verdict',
    load: async () => (await import('./test-run.js')).testRun,
  },
  {
    name: 'map',
    summary: 'dump, look up, update, delete map entries (pin path or id:N); list maps; show one; pin one',
    load: async () => (await import('./map.js')).map,
  },
  {
    name: 'prog',
    summary: 'list the programs loaded in the kernel; show one (maps, links, load time, what holds it); dump its instructions as the kernel runs them; pin it',
    load: async () => (await import('./prog.js')).prog,
  },
  {
    name: 'btf',
    summary: "print BTF types as C (objects, /sys/kernel/btf/*, the kernel's BTF objects by id); list those; show CO-RE relocations and what they resolve to",
    load: async () => (await import('./btf.js')).btf,
  },
  {
    name: 'testenv',
    summary: 'set up, inspect, enter or tear down a two-namespace veth test network',
    load: async () => (await import('./testenv.js')).testenv,
  },
  {
    name: 'link',
    summary: 'list the bpf_links in the kernel (what is attached where); show one; detach one; pin one',
    load: async () => (await import('./link.js')).link,
  },
  {
    name: 'pins',
    summary: "list what is pinned on bpffs: each pin's kind, id, name and type, its owner, and the link pins that hold nothing any more (--prune removes those)",
    load: async () => (await import('./pins.js')).pins,
  },
  {
    name: 'top',
    summary: "show every loaded program's runs/s, ns/run and CPU share, refreshed live (like bpftop)",
    load: async () => (await import('./top.js')).top,
  },
  {
    name: 'iter',
    summary: 'run a BPF iterator program once and print its output',
    load: async () => (await import('./iter.js')).iter,
  },
  {
    name: 'disasm',
    summary: "print the instructions of an object's programs with their C source lines (no root needed)",
    load: async () => (await import('./disasm.js')).disasm,
  },
  {
    name: 'feature',
    summary: 'probe what the running kernel supports: program and map types, helpers, verifier features, BPF sysctls and config (like bpftool feature probe)',
    load: async () => (await import('./feature.js')).feature,
  },
  {
    name: 'gen',
    summary: "write a TypeScript module typed from the object's BTF: maps, globals, programs, events",
    load: async () => (await import('./gen.js')).gen,
  },
];
