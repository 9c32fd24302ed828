// A loaded program's instructions as the kernel runs them: after the
// verifier's rewrites (context accesses, inlined helpers and map lookups,
// dead code removed), what `bpftool prog dump xlated` shows. Maps are named
// by id and name, global variables by their BTF name, helper and kfunc calls
// by their kernel symbol (/proc/kallsyms), local calls by the called
// function, and each run of instructions has its C source line from the
// program's BTF line info.

import { type DisasmNames, insnText, signed } from '../asm/disasm.js';
import { helperName } from '../asm/helpers.js';
import { decode, type Insn, withSlots } from '../asm/insn.js';
import * as op from '../asm/opcode.js';
import { kernelBtfById } from '../btf/handle.js';
import type { Btf } from '../btf/btf.js';
import { formatType } from '../btf/format.js';
import { BpfError } from '../errors.js';
import { type MapInfo, type ProgInsns, progInfo, progInsns } from '../sys/info.js';
import { kallsymsAddresses, kallsymsNamesAt, readKallsyms } from '../sys/kallsyms.js';
import { mapInfoById, unlessDenied } from '../sys/ids.js';
import { mapTypeName, progTypeName } from '../uapi/bpf.js';

const { endianness } = process.getBuiltinModule('node:os');

/** A map the program uses. `name` and `type` only when the caller may open maps by id (CAP_SYS_ADMIN). */
export interface XlatedMap {
  id: number;
  name?: string;
  type?: string;
}

export interface XlatedLine {
  /** Slot index (what jumps and line info count in). */
  slot: number;
  insn: Insn;
  text: string;
  /** A function starts here: its C prototype from BTF (e.g. "int xdp_b(struct xdp_md *ctx)"). */
  function?: { name: string; prototype: string };
  /** The C source line starting at this instruction (not repeated for the next record of the same line). */
  source?: { file: string; line: number; column: number; text: string };
  /** The map an ld_imm64 refers to, and the offset into its value for global data. */
  map?: { id: number; name?: string; offset?: number };
  /** What a call instruction calls. */
  call?: { kind: 'helper' | 'kfunc' | 'function'; name?: string; slot?: number };
}

export interface XlatedProgram {
  id: number;
  name: string;
  type: string;
  tag: string;
  /** The JIT compiled it (then local calls can be followed). */
  jited: boolean;
  /** The instructions, raw, in host byte order (what `bpftool prog dump xlated … file F` writes). */
  bytes: Uint8Array;
  maps: XlatedMap[];
  /**
   * The kernel showed this caller the addresses helper and kfunc calls
   * target, so they could be named. It shows them to callers with
   * CAP_SYSLOG, or to everyone when kernel.kptr_restrict is 0 and
   * kernel.perf_event_paranoid is at most 1.
   */
  addressesShown: boolean;
  /** Source lines and function names could be read: the program's BTF opens by id only with CAP_SYS_ADMIN. */
  sourceShown: boolean;
  /** Map names could be read: maps open by id only with CAP_SYS_ADMIN. */
  mapNamesShown: boolean;
  lines: XlatedLine[];
}

const littleEndian = endianness() === 'LE';

/** The xlated instructions of the program behind `fd`, annotated. */
export function xlatedProgram(fd: number, context?: string): XlatedProgram {
  const info = progInfo(fd, { mapIds: true }, context);
  const label = context ?? `program ${info.name || `id ${info.id}`}`;
  const code = progInsns(fd, label);
  if (code.withheld === 'capability') {
    throw new BpfError('NOT_ROOT', `${label}: reading its instructions needs CAP_BPF (or CAP_SYS_ADMIN): the kernel reports none to this process`);
  }
  if (code.withheld === 'blinded') {
    throw new BpfError('NOT_ROOT', `${label}: the kernel blinded its constants (net.core.bpf_jit_harden) and shows such programs only to callers with CAP_SYSLOG`);
  }
  const insns = decode(code.xlated, littleEndian, label);
  const maps = info.mapIds.map(openMapInfo);
  const btfs = new Map<number, Btf | null>();
  const btf = (id: number): Btf | null => {
    if (id === 0) return null;
    if (!btfs.has(id)) btfs.set(id, readBtf(id));
    return btfs.get(id) ?? null;
  };
  const progBtf = btf(code.btfId);
  const functions = functionStarts(code, progBtf);
  const jited = info.jitedProgLen > 0;
  const calls = callTargets(insns, jited);
  const annotations = new Map<number, Pick<XlatedLine, 'map' | 'call'>>();
  const mapById = new Map(maps.map((m) => [m.id, m]));
  // A map is shown by name when no other map of the program has that name (else by id).
  const nameCount = new Map<string, number>();
  for (const m of maps) if (m.info) nameCount.set(m.info.name, (nameCount.get(m.info.name) ?? 0) + 1);
  const mapLabel = (id: number): string => {
    const n = mapById.get(id)?.info?.name;
    return n && nameCount.get(n) === 1 ? `map[${n}]` : `map[id:${id}]`;
  };

  const names: DisasmNames = {
    ldImm64(i: Insn, slot: number) {
      if (i.src === op.BPF_PSEUDO_MAP_FD) {
        annotations.set(slot, { map: { id: i.imm, name: mapById.get(i.imm)?.info?.name } });
        return `${mapLabel(i.imm)} ll`;
      }
      if (i.src === op.BPF_PSEUDO_MAP_VALUE) {
        const off = i.imm2 ?? 0;
        const m = mapById.get(i.imm);
        annotations.set(slot, { map: { id: i.imm, name: m?.info?.name, offset: off } });
        const v = m?.info ? variableAt(btf(m.info.btfId), m.info, off) : undefined;
        if (v) return `&${v.name}${off > v.offset ? ` + ${off - v.offset}` : ''} ll`;
        return `&${mapLabel(i.imm)}${off ? ` + ${off}` : ''} ll`;
      }
      if (i.src === op.BPF_PSEUDO_FUNC) {
        const f = functions.get(slot + 1 + i.imm);
        return f ? `func(${f.name}) ll` : undefined;
      }
      return undefined;
    },
    call(i: Insn, slot: number) {
      const t = calls.describe(i, slot, functions);
      annotations.set(slot, { call: t.call });
      return t.text;
    },
  };

  const lineBySlot = new Map(code.lineInfo.map((l) => [l.insnOff, l]));
  let lastLine = '';
  const lines: XlatedLine[] = [];
  for (const [slot, insn] of withSlots(insns)) {
    const text = insnText(insn, names, slot);
    const line: XlatedLine = { slot, insn, text, ...annotations.get(slot) };
    const f = functions.get(slot);
    if (f) line.function = f;
    const li = lineBySlot.get(slot);
    if (li && progBtf) {
      const src = { file: progBtf.stringAt(li.fileNameOff), line: li.lineCol >>> 10, column: li.lineCol & 0x3ff, text: progBtf.stringAt(li.lineOff).trim() };
      const key = `${src.file}:${src.line}`;
      // A new record for the same source line is not repeated (a function start always shows it).
      if (src.text && (key !== lastLine || f)) line.source = src;
      lastLine = key;
    }
    lines.push(line);
  }
  // The kernel keeps 15 bytes of a name; the program's BTF has all of it.
  const first = functions.get(0);
  return {
    id: info.id,
    name: first && info.name && first.name.startsWith(info.name) ? first.name : info.name,
    type: progTypeName(info.type),
    tag: info.tag,
    jited,
    bytes: code.xlated,
    maps: maps.map((m) => ({ id: m.id, ...(m.info ? { name: m.info.name, type: mapTypeName(m.info.type) } : {}) })),
    addressesShown: calls.addressesShown(code),
    sourceShown: code.btfId === 0 || progBtf !== null,
    mapNamesShown: maps.every((m) => m.info !== undefined),
    lines,
  };
}

/** bpf_map_info of a map id; without CAP_SYS_ADMIN only the id is known. */
function openMapInfo(id: number): { id: number; info?: MapInfo } {
  const info = mapInfoById(id);
  return info !== null && info !== 'denied' ? { id, info } : { id };
}

/** A BTF object by id, or null when the caller may not open it. */
function readBtf(id: number): Btf | null {
  return unlessDenied(() => kernelBtfById(id), null);
}

/** The global variable of a data section map (.bss, .data, .rodata) that byte `off` of its value falls in. */
function variableAt(btf: Btf | null, info: MapInfo, off: number): { name: string; offset: number } | undefined {
  if (!btf || info.btfValueTypeId === 0) return undefined;
  const t = btf.typeById(info.btfValueTypeId);
  if (t.kind !== 'datasec') return undefined;
  const v = t.vars.find((x) => off >= x.offset && off < x.offset + Math.max(1, x.size));
  return v ? { name: btf.typeById(v.type).name, offset: v.offset } : undefined;
}

/** Functions by their first slot, named from func_info and BTF. */
function functionStarts(code: ProgInsns, btf: Btf | null): Map<number, { name: string; prototype: string }> {
  const out = new Map<number, { name: string; prototype: string }>();
  if (!btf) return out;
  for (const f of code.funcInfo) {
    const t = btf.typeById(f.typeId);
    if (t.kind !== 'func') continue;
    out.set(f.insnOff, { name: t.name, prototype: formatType(btf, f.typeId).replace(/;$/, '') });
  }
  return out;
}

/**
 * Naming call targets. In the xlated code a helper or kfunc call holds the
 * target's address less `__bpf_call_base` (0 when the kernel hides
 * addresses from the caller); a local call in a JITed program holds the
 * relative jump in `off` (and the callee's index in `imm`).
 */
function callTargets(insns: readonly Insn[], jited: boolean) {
  let symbols: { base: bigint | null; names: Map<bigint, string> } | undefined;
  const resolve = (): { base: bigint | null; names: Map<bigint, string> } => {
    if (symbols) return symbols;
    const text = readKallsyms();
    const base = text === null ? undefined : kallsymsAddresses(['__bpf_call_base'], text).get('__bpf_call_base');
    if (text === null || !base) return (symbols = { base: null, names: new Map() });
    const wanted = insns.filter((i) => i.code === op.CALL && i.src !== op.BPF_PSEUDO_CALL && i.imm !== 0).map((i) => base + BigInt(i.imm));
    return (symbols = { base, names: kallsymsNamesAt(wanted, text) });
  };
  const symbolAt = (imm: number): string | undefined => {
    if (imm === 0) return undefined;
    const s = resolve();
    return s.base === null ? undefined : s.names.get(s.base + BigInt(imm));
  };
  return {
    describe(i: Insn, slot: number, functions: Map<number, { name: string }>): { text: string; call: XlatedLine['call'] } {
      if (i.src === op.BPF_PSEUDO_CALL) {
        if (!jited) return { text: 'function (not JITed: target unknown)', call: { kind: 'function' } };
        const target = slot + 1 + i.off;
        const f = functions.get(target);
        return { text: `${f?.name ?? 'pc'}${f ? ` (pc${signed(i.off)})` : signed(i.off)}`, call: { kind: 'function', name: f?.name, slot: target } };
      }
      if (i.src === op.BPF_PSEUDO_KFUNC_CALL) {
        const name = symbolAt(i.imm);
        return { text: `${name ?? '?'} (kfunc)`, call: { kind: 'kfunc', name } };
      }
      // As the kernel prints it: a small imm is a helper id (the tail call, which the dump writes back as one).
      const id = helperName(i.imm);
      const name = id ?? symbolAt(i.imm);
      return { text: name ?? '?', call: { kind: 'helper', name } };
    },
    /** Whether the kernel let this caller see addresses: JITed functions' addresses come back non-zero only then. */
    addressesShown(code: ProgInsns): boolean {
      if (code.jitedKsyms.length > 0) return code.jitedKsyms.some((a) => a !== 0n);
      return resolve().base !== null;
    },
  };
}
