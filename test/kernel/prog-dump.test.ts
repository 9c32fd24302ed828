// A loaded program's translated instructions (BpfProgram.xlated(), `bpf-ts
// prog dump`), checked against bpftool reading the same program: the raw
// bytes `bpftool prog dump xlated … file F` writes, and per instruction of
// its text dump the opcode, the map id and offset, the called helper, kfunc
// or function, the function prototypes and the C source lines. Variable
// names are checked against `bpftool btf dump id N` of each map's BTF.

import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cgroup2Mount } from '../../src/attach/cgroup.js';
import { type BpfCollection, openObject } from '../../src/collection.js';
import type { BpfProgram } from '../../src/programs/program.js';
import { BpfProgram as Program } from '../../src/programs/program.js';
import type { XlatedProgram } from '../../src/programs/xlated.js';
import { BpfMap } from '../../src/maps/map.js';
import { BPF_MAP_TYPE } from '../../src/sys/map-type.js';
import { mountBpffs } from '../helpers/bpffs.js';
import { cli, cliOk, fixture, uniqueName } from '../helpers/cli.js';
import { describeRoot } from '../helpers/root.js';
import { thrown } from '../helpers/thrown.js';
import { NOBODY, runUnprivileged, setprivArgs, unprivilegedCopy } from '../helpers/unpriv.js';

/** One instruction of bpftool's text dump, with the source line and prototype printed above it. */
interface ToolInsn {
  slot: number;
  code: number;
  text: string;
  source?: string;
  prototype?: string;
}

function bpftoolXlated(id: number): ToolInsn[] {
  const out = execFileSync('bpftool', ['prog', 'dump', 'xlated', 'id', String(id)], { encoding: 'utf8' });
  const insns: ToolInsn[] = [];
  let source: string | undefined;
  let prototype: string | undefined;
  for (const line of out.split('\n')) {
    const m = /^\s*(\d+): \(([0-9a-f]{2})\) (.*)$/.exec(line);
    if (m) {
      insns.push({ slot: Number(m[1]), code: parseInt(m[2]!, 16), text: m[3]!, source, prototype });
      source = prototype = undefined;
    } else if (line.startsWith('; ')) source = line.slice(2);
    else if (line.endsWith(':')) prototype = line.slice(0, -1);
  }
  return insns;
}

function bpftoolXlatedBytes(id: number): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'bpf-ts-xlated-'));
  try {
    execFileSync('bpftool', ['prog', 'dump', 'xlated', 'id', String(id), 'file', join(dir, 'insns')]);
    return readFileSync(join(dir, 'insns'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Variables of the DATASECs of a BTF object by (section, offset), as bpftool lists them. */
function bpftoolVariables(btfId: number): Map<string, string> {
  const out = execFileSync('bpftool', ['btf', 'dump', 'id', String(btfId)], { encoding: 'utf8' });
  const vars = new Map<string, string>();
  let sec = '';
  for (const line of out.split('\n')) {
    const s = /^\[\d+\] DATASEC '([^']*)'/.exec(line);
    if (s) sec = s[1]!;
    const v = /^\ttype_id=\d+ offset=(\d+) size=\d+ \(VAR '([^']*)'\)/.exec(line);
    if (v && sec) vars.set(`${sec}@${v[1]}`, v[2]!);
    if (/^\[\d+\] (?!DATASEC)/.test(line)) sec = '';
  }
  return vars;
}

const squash = (s: string) => s.replace(/\s+/g, '');

describeRoot('prog dump: translated instructions, against bpftool', () => {
  const colls: BpfCollection[] = [];
  let fs: { path: string; unmount(): void };
  const programs: { file: string; name: string; prog: BpfProgram }[] = [];

  beforeAll(() => {
    fs = mountBpffs();
    chmodSync(fs.path, 0o755);
    const load = (file: string, names: string[], setup?: (s: ReturnType<typeof openObject>) => void) => {
      const spec = openObject(fixture(file));
      setup?.(spec);
      const c = spec.load({ programs: names });
      colls.push(c);
      for (const n of names) programs.push({ file, name: n, prog: c.program(n) });
    };
    load('icmp_even_drop.o', ['xdp_even_drop']);
    load('subprogs.o', ['xdp_b', 'xdp_loop']);
    load('ringbuf.o', ['xdp_ringbuf']);
    // A port and verbose set, so the verifier keeps the code that reads them.
    load('globals.o', ['xdp_globals'], (s) => {
      s.setGlobal('drop_port', 9);
      s.setGlobal('verbose', 1);
    });
    load('tailcall.o', ['xdp_entry']);
    load('kfuncs.o', ['xdp_dynptr_len', 'xdp_weak_missing']);
  });

  afterAll(() => {
    for (const c of colls) c.close();
    fs?.unmount();
  });

  const dumps = new Map<string, XlatedProgram>();
  const dumpOf = (name: string): XlatedProgram => {
    const p = programs.find((x) => x.name === name)!;
    if (!dumps.has(name)) dumps.set(name, p.prog.xlated());
    return dumps.get(name)!;
  };

  it('the bytes are the ones bpftool writes, for every program', () => {
    expect(programs).toHaveLength(8);
    for (const { name, prog } of programs) {
      const x = dumpOf(name);
      expect(x.id).toBe(prog.info().id);
      expect(Buffer.from(x.bytes).equals(bpftoolXlatedBytes(x.id)), name).toBe(true);
      // Slot numbers as bpftool counts them: the last line is the last slot.
      const tool = bpftoolXlated(x.id);
      expect(x.lines.map((l) => l.slot)).toEqual(tool.map((t) => t.slot));
      expect(x.lines.map((l) => l.insn.code)).toEqual(tool.map((t) => t.code));
      expect(x.addressesShown).toBe(true);
      expect(x.sourceShown).toBe(true);
      expect(x.mapNamesShown).toBe(true);
    }
  });

  it("forms only the kernel writes: a per-CPU address made absolute, in the kernel's own spelling", () => {
    // The inlined per-CPU array lookup: movsx's off = -1 (BPF_ADDR_PERCPU), read from bpftool's copy of the bytes;
    // kernel/bpf/disasm.c prints it "r0 = &(void __percpu *)(r0)" (this Debian bpftool's older copy prints "r0 = r0").
    const x = dumpOf('xdp_even_drop');
    const bytes = bpftoolXlatedBytes(x.id);
    const percpu = x.lines.filter((l) => l.insn.code === 0xbf && bytes.readInt16LE(l.slot * 8 + 2) === -1);
    expect(percpu.length).toBe(2);
    for (const l of percpu) expect(l.text).toBe(`r${l.insn.dst} = &(void __percpu *)(r${l.insn.src})`);
  });

  it('a program loaded without CAP_PERFMON: the speculation barriers the verifier adds, as bpftool shows them', async () => {
    // uid 65534 with CAP_BPF + CAP_NET_ADMIN loads xdp_loop and pins it in a directory of its own; the pin keeps it loaded.
    const dir = join(fs.path, uniqueName('nobody'));
    mkdirSync(dir);
    chownSync(dir, NOBODY, NOBODY);
    const copy = unprivilegedCopy();
    const script = join(copy, `pin-${uniqueName('s')}.mjs`);
    writeFileSync(script, "import { openObject } from './dist/index.js';\nopenObject('fixtures/subprogs.o').load({ programs: ['xdp_loop'] }).program('xdp_loop').pin(process.argv[2]);\n", {
      mode: 0o644,
    });
    try {
      execFileSync(setprivArgs(['bpf', 'net_admin'])[0]!, [...setprivArgs(['bpf', 'net_admin']).slice(1), process.execPath, script, join(dir, 'p')], { cwd: copy, stdio: 'pipe' });
      const id = (JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show', 'pinned', join(dir, 'p')], { encoding: 'utf8' })) as { id: number }).id;
      const barriers = bpftoolXlated(id).filter((t) => t.code === 0xc2);
      expect(barriers.length).toBeGreaterThan(0);
      for (const t of barriers) expect(t.text).toBe('nospec');
      const j = (await cliOk('prog', 'dump', `id:${id}`, '--json')).json();
      expect(j.instructions.filter((i: { text: string }) => i.text === 'nospec').map((i: { insn: number }) => i.insn)).toEqual(barriers.map((t) => t.slot));
    } finally {
      rmSync(script, { force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('full names from BTF where the kernel keeps 15 bytes', () => {
    expect(dumpOf('xdp_weak_missing').name).toBe('xdp_weak_missing');
    expect(programs.find((p) => p.name === 'xdp_weak_missing')!.prog.info().name).toBe('xdp_weak_missin');
  });

  it('maps by the id bpftool shows, global variables by the name in the map BTF', () => {
    let refs = 0;
    let vars = 0;
    for (const { name } of programs) {
      const x = dumpOf(name);
      const bySlot = new Map(x.lines.map((l) => [l.slot, l]));
      for (const t of bpftoolXlated(x.id)) {
        const m = /map\[id:(\d+)\](?:\[0\]\+(\d+))?/.exec(t.text);
        const ours = bySlot.get(t.slot)!;
        if (!m) {
          expect(ours.map, `${name} ${t.slot}`).toBeUndefined();
          continue;
        }
        refs++;
        expect(ours.map?.id, `${name} ${t.slot}`).toBe(Number(m[1]));
        expect(ours.map?.offset).toBe(m[2] === undefined ? undefined : Number(m[2]));
        const info = x.maps.find((mm) => mm.id === Number(m[1]))!;
        expect(ours.map?.name).toBe(info.name);
        if (m[2] !== undefined) {
          using map = BpfMap.fromId(Number(m[1]));
          const v = bpftoolVariables(map.info().btfId).get(`${info.name}@${m[2]}`);
          expect(v, `${name} ${t.slot}: a variable at ${info.name}+${m[2]}`).toBeDefined();
          expect(ours.text).toBe(`r${ours.insn.dst} = &${v} ll`);
          vars++;
        } else {
          expect(ours.text).toBe(`r${ours.insn.dst} = map[${info.name}] ll`);
        }
      }
    }
    // What bpftool shows: icmp_even_drop 2, ringbuf 2 (one a variable), globals 6 (all variables), tailcall 1, kfuncs 1 (a variable).
    expect(refs).toBe(12);
    expect(vars).toBe(8);
  });

  it('the map list: names and types as the kernel reports them', () => {
    const x = dumpOf('xdp_globals');
    const tool = JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show', 'id', String(x.id)], { encoding: 'utf8' })) as { map_ids: number[] };
    expect(x.maps.map((m) => m.id).sort()).toEqual([...tool.map_ids].sort());
    for (const m of x.maps) {
      const t = JSON.parse(execFileSync('bpftool', ['-j', 'map', 'show', 'id', String(m.id)], { encoding: 'utf8' })) as { name: string; type: string };
      expect({ name: m.name, type: m.type }).toEqual({ name: t.name, type: t.type });
    }
  });

  it('calls: helpers and kfuncs by the kernel symbol bpftool names, local calls by the function at pc+off', () => {
    const kinds: string[] = [];
    for (const { name } of programs) {
      const x = dumpOf(name);
      const bySlot = new Map(x.lines.map((l) => [l.slot, l]));
      for (const t of bpftoolXlated(x.id)) {
        const ours = bySlot.get(t.slot)!;
        const local = /^call pc([+-]\d+)#bpf_prog_[0-9a-f]{16}_(\w+)$/.exec(t.text);
        const other = /^call (\w+)#-?\d+$/.exec(t.text);
        if (local) {
          expect(ours.call).toEqual({ kind: 'function', name: local[2], slot: t.slot + 1 + Number(local[1]) });
          expect(ours.text).toBe(`call ${local[2]} (pc${local[1]})`);
        } else if (other) {
          expect(ours.call?.name, `${name} ${t.slot}`).toBe(other[1]);
          expect(ours.text).toBe(`call ${other[1]}${ours.call?.kind === 'kfunc' ? ' (kfunc)' : ''}`);
        } else {
          expect(ours.call, `${name} ${t.slot}: ${t.text}`).toBeUndefined();
          continue;
        }
        kinds.push(`${name}:${ours.call!.kind}:${ours.call!.name}`);
      }
    }
    expect(kinds.sort()).toEqual(
      [
        'xdp_b:function:mul_two',
        'xdp_b:function:add_one',
        'xdp_loop:function:sum_index',
        'xdp_ringbuf:helper:bpf_ringbuf_reserve',
        'xdp_ringbuf:helper:bpf_ringbuf_submit',
        'xdp_entry:helper:bpf_tail_call',
        'xdp_dynptr_len:kfunc:bpf_dynptr_from_xdp',
        'xdp_dynptr_len:kfunc:bpf_dynptr_size',
      ].sort(),
    );
    // The bpf_loop callback's address: func(sum_index), where bpftool shows subprog[+27].
    const loop = dumpOf('xdp_loop').lines.find((l) => l.text.includes('func('))!;
    const tool = bpftoolXlated(dumpOf('xdp_loop').id).find((t) => t.slot === loop.slot)!;
    const rel = Number(/subprog\[([+-]\d+)\]/.exec(tool.text)![1]);
    expect(dumpOf('xdp_loop').lines.find((l) => l.slot === loop.slot + 1 + rel)?.function?.name).toBe('sum_index');
    expect(loop.text).toBe(`r${loop.insn.dst} = func(sum_index) ll`);
  });

  it('function prototypes and C source lines where bpftool prints them', () => {
    let sources = 0;
    for (const { name } of programs) {
      const x = dumpOf(name);
      const bySlot = new Map(x.lines.map((l) => [l.slot, l]));
      let last: string | undefined;
      for (const t of bpftoolXlated(x.id)) {
        const ours = bySlot.get(t.slot)!;
        expect(ours.function ? squash(ours.function.prototype.replace(/^static /, '')) : undefined, `${name} ${t.slot}`).toBe(t.prototype && squash(t.prototype));
        // bpftool repeats a line for each line_info record; ours shows it when it changes (and at each function start).
        if (t.source !== undefined && (t.source !== last || t.prototype)) {
          expect(ours.source?.text, `${name} ${t.slot}`).toBe(t.source.trim());
          sources++;
        } else if (ours.source) {
          expect(t.source?.trim(), `${name} ${t.slot}`).toBe(ours.source.text);
        }
        if (t.source !== undefined) last = t.source;
      }
    }
    expect(sources).toBeGreaterThan(40);
    // The line number points at that text in the C source the fixture was built from.
    const first = dumpOf('xdp_ringbuf').lines.find((l) => l.text.includes('bpf_ringbuf_reserve'))!;
    const prev = dumpOf('xdp_ringbuf')
      .lines.filter((l) => l.slot <= first.slot && l.source)
      .at(-1)!;
    expect(prev.source).toMatchObject({ file: './ringbuf.c', text: 'struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);' });
    const cSource = readFileSync(join(fixture('..'), 'bpf', 'ringbuf.c'), 'utf8').split('\n');
    expect(cSource[prev.source!.line - 1]!.trim()).toBe(prev.source!.text);
  });

  it('prog dump id:N prints the listing; --json carries the same lines', async () => {
    const x = dumpOf('xdp_ringbuf');
    const r = await cliOk('prog', 'dump', `id:${x.id}`);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`xdp_ringbuf (id ${x.id}, xdp, tag ${x.tag}, JITed), as the kernel runs it:`);
    expect(lines[1]).toMatch(/^maps: (events \(id \d+, ringbuf\), \.bss \(id \d+, array\)|\.bss \(id \d+, array\), events \(id \d+, ringbuf\))$/);
    expect(lines).toContain('int xdp_ringbuf(struct xdp_md *ctx):');
    expect(lines).toContain('   5: call bpf_ringbuf_reserve');
    expect(lines).toContain('   8: r2 = &seq_counter ll');
    expect(lines.filter((l) => /^\s+\d+: /.test(l))).toHaveLength(x.lines.length);
    expect(r.stderr).toBe('');
    const j = (await cliOk('prog', 'dump', `id:${x.id}`, '--json')).json();
    expect(j).toMatchObject({ id: x.id, name: 'xdp_ringbuf', type: 'xdp', tag: x.tag, jited: true, addressesShown: true, sourceShown: true, mapNamesShown: true });
    expect(j.instructions.map((i: { insn: number; text: string }) => [i.insn, i.text])).toEqual(x.lines.map((l) => [l.slot, l.text]));
    expect(j.instructions.find((i: { insn: number }) => i.insn === 5)).toEqual({ insn: 5, text: 'call bpf_ringbuf_reserve', call: { kind: 'helper', name: 'bpf_ringbuf_reserve' } });
  });

  it('prog dump PIN: a pinned program; a symlink, a map pin and an unknown id are refused, saying what they are', async () => {
    const p = programs.find((x) => x.name === 'xdp_b')!.prog;
    const pin = join(fs.path, uniqueName('prog'));
    p.pin(pin);
    const link = join(fs.path, uniqueName('link'));
    symlinkSync(pin, link);
    using map = BpfMap.create({ name: 'not_a_prog', type: BPF_MAP_TYPE.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 });
    const mapPin = join(fs.path, uniqueName('map'));
    map.pin(mapPin);
    try {
      const j = (await cliOk('prog', 'dump', pin, '--json')).json();
      expect(j.id).toBe(p.info().id);
      expect(j.instructions.map((i: { text: string }) => i.text)).toEqual(dumpOf('xdp_b').lines.map((l) => l.text));
      using again = Program.fromPin(pin);
      expect(again.info().id).toBe(p.info().id);

      const sym = await cli('prog', 'dump', link);
      expect(sym.code).toBe(1);
      expect(sym.stderr).toMatch(new RegExp(`^bpf-ts: .*${link}.*symlink`));
      expect(thrown(() => Program.fromPin(link)).code).toBe('PIN_UNSAFE');

      const m = await cli('prog', 'dump', mapPin);
      expect(m.code).toBe(1);
      expect(m.stderr).toBe(`bpf-ts: ${mapPin} is a pinned map, not a program (see bpf-ts map)\n`);

      const none = await cli('prog', 'dump', 'id:4294967295');
      expect(none.stderr).toBe('bpf-ts: no program with id 4294967295\n');
      const bad = await cli('prog', 'dump', 'id:x');
      expect(bad.stderr).toBe('bpf-ts: id:x is not a program id: write id:N with N a kernel program id (bpf-ts prog list shows them)\n');
      const missing = await cli('prog', 'dump');
      expect(missing.stderr).toBe('bpf-ts: name the program: a pin path on bpffs (a program or a link), or id:N\n');
    } finally {
      rmSync(link);
      rmSync(pin);
      rmSync(mapPin);
    }
  });

  it('prog dump LINK_PIN: the program attached through a pinned link (what load --link leaves)', async () => {
    const cg = join(cgroup2Mount(), `bpf-ts-${uniqueName('pdcg')}`);
    mkdirSync(cg);
    const pin = join(fs.path, uniqueName('plink'));
    try {
      await cliOk('load', fixture('sections.o'), '--cgroup', cg, '--program', 'prog_cgroup_skb_egress', '--link', '--pin-link', pin);
      const tool = JSON.parse(execFileSync('bpftool', ['-j', 'link', 'show', 'pinned', pin], { encoding: 'utf8' })) as { prog_id: number };
      const j = (await cliOk('prog', 'dump', pin, '--json')).json();
      expect(j.id).toBe(tool.prog_id);
      expect(j.type).toBe('cgroup_skb');
      expect(j.name).toBe('prog_cgroup_skb_egress');
      expect(j.instructions.at(-1)).toEqual({ insn: bpftoolXlatedBytes(j.id).length / 8 - 1, text: 'exit' });
    } finally {
      await cli('detach', '--pin-link', pin);
      rmdirSync(cg);
    }
  });

  it('as uid 65534: CAP_BPF reads the instructions, CAP_SYSLOG adds helper names, CAP_SYS_ADMIN source lines and map names', async () => {
    const x = dumpOf('xdp_ringbuf');
    const pin = join(fs.path, uniqueName('uprog'));
    programs.find((p) => p.name === 'xdp_ringbuf')!.prog.pin(pin);
    chownSync(pin, NOBODY, NOBODY);
    try {
      const none = await runUnprivileged(['prog', 'dump', pin], []);
      expect(none.code).toBe(1);
      expect(none.stderr).toBe('bpf-ts: program xdp_ringbuf: reading its instructions needs CAP_BPF (or CAP_SYS_ADMIN): the kernel reports none to this process\n');

      const bpf = await runUnprivileged(['prog', 'dump', pin, '--json'], ['bpf']);
      expect(bpf.code, bpf.stderr).toBe(0);
      const j = bpf.json();
      expect(j).toMatchObject({ id: x.id, addressesShown: false, sourceShown: false, mapNamesShown: false });
      expect(j.instructions.map((i: { insn: number }) => i.insn)).toEqual(x.lines.map((l) => l.slot));
      expect(j.instructions.find((i: { insn: number }) => i.insn === 5)).toEqual({ insn: 5, text: 'call ?', call: { kind: 'helper' } });
      expect(j.instructions.find((i: { insn: number }) => i.insn === 1).text).toMatch(/^r1 = map\[id:\d+\] ll$/);
      expect(bpf.stderr.split('\n').filter(Boolean)).toEqual([
        'bpf-ts: warning: helper and kfunc calls are shown as "call ?": the kernel hides their addresses from this process (needs CAP_SYSLOG, or kernel.kptr_restrict=0 and kernel.perf_event_paranoid<=1)',
        "bpf-ts: warning: no source lines or function names: the program's BTF opens by id only with CAP_SYS_ADMIN",
        'bpf-ts: warning: maps are shown by id: they open by id only with CAP_SYS_ADMIN',
      ]);

      const syslog = (await runUnprivileged(['prog', 'dump', pin, '--json'], ['bpf', 'syslog'])).json();
      expect(syslog.addressesShown).toBe(true);
      expect(syslog.instructions.find((i: { insn: number }) => i.insn === 5).text).toBe('call bpf_ringbuf_reserve');

      const admin = (await runUnprivileged(['prog', 'dump', pin, '--json'], ['sys_admin', 'syslog'])).json();
      expect(admin.instructions.map((i: { text: string }) => i.text)).toEqual(x.lines.map((l) => l.text));
    } finally {
      rmSync(pin);
    }
  });
});
