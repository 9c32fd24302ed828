// bpf-ts map dump|lookup|update|delete|list|show: read and write maps in
// the kernel, addressed by pin path or id, in bpftool's shapes; show one
// map's description and the programs using it. With --json,
// maps that carry BTF also get bpftool's "formatted" key/value per entry.

import { BpfError } from '../../errors.js';
import { toJsonValue } from '../../btf/values/json.js';
import { updateFlags, type BpfMap, type MapValue, type UpdateFlag } from '../../maps/map.js';
import { type TypedMap, typedMapFromKernel } from '../../maps/typed.js';
import { bpfFdInfo } from '../../sys/fdinfo.js';
import { listMaps, listPrograms, unlessDenied } from '../../sys/ids.js';
import { mapFlagNames, mapTypeName, progTypeName } from '../../uapi/bpf.js';
import { type CommandContext, defineCommand } from '../command.js';
import { hexList, table } from '../format.js';
import { parseHex } from '../hex.js';
import { holdersOf, printHolders } from '../holders.js';
import { BPF_MAP_TYPE } from '../../sys/map-type.js';
import { parseSet } from '../set-arg.js';
import { openMapTarget, pinAt, pinOfTarget } from '../target.js';

const spaced = (b: Uint8Array) =>
  hexList(b)
    .map((x) => x.slice(2))
    .join(' ');

/** bpftool -j's "formatted": key (when BTF describes it), value or values per CPU. */
function formattedEntry(typed: TypedMap, key: Uint8Array, value: MapValue): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (typed.key.typeId) out.key = toJsonValue(typed.key.decode(key));
  if (Array.isArray(value)) out.values = value.map((v, cpu) => ({ cpu, value: toJsonValue(typed.value.decode(v)) }));
  else out.value = toJsonValue(typed.value.decode(value));
  return out;
}

/** bpftool -j's raw entry: value, or values per CPU; plus "formatted" when the map has BTF. */
export function entryJson(key: Uint8Array, value: MapValue, typed?: TypedMap | null) {
  const raw = Array.isArray(value) ? { key: hexList(key), values: value.map((v, cpu) => ({ cpu, value: hexList(v) })) } : { key: hexList(key), value: hexList(value) };
  return typed && typed.value.typeId ? { ...raw, formatted: formattedEntry(typed, key, value) } : raw;
}

/** The map typed by its kernel BTF, or null (no BTF, or it cannot be read: the raw dump still works). */
function kernelTyped(map: BpfMap): TypedMap | null {
  try {
    return typedMapFromKernel(map);
  } catch {
    return null;
  }
}

/**
 * A decoded BTF value on one line: numbers in decimal, strings quoted,
 * { field: value, … } and [a, b, …] — what bpftool prints as JSON, compact.
 */
export function oneLine(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(oneLine).join(', ')}]`;
  if (v !== null && typeof v === 'object') {
    const fields = Object.entries(v).map(([k, x]) => `${k}: ${oneLine(x)}`);
    return fields.length ? `{ ${fields.join(', ')} }` : '{}';
  }
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

/**
 * One entry as text: decoded through the map's BTF where it describes the
 * key or value (as bpftool does), else (or with --hex) the bytes in hex.
 */
function printEntry(ctx: CommandContext, key: Uint8Array, value: MapValue, typed: TypedMap | null): void {
  const k = typed?.key.typeId ? oneLine(toJsonValue(typed.key.decode(key))) : spaced(key);
  const v = (b: Uint8Array) => (typed?.value.typeId ? oneLine(toJsonValue(typed.value.decode(b))) : spaced(b));
  if (Array.isArray(value)) {
    ctx.print(`key: ${k}`);
    value.forEach((x, cpu) => ctx.print(`  value (CPU ${String(cpu).padStart(2, '0')}): ${v(x)}`));
  } else {
    ctx.print(`key: ${k}  value: ${v(value)}`);
  }
}

function needKey(values: { key?: string }): Buffer {
  if (typeof values.key !== 'string') throw new BpfError('USAGE', 'needs --key HEX');
  return parseHex(values.key, '--key');
}

function dump(map: BpfMap, hex: boolean, ctx: CommandContext): number {
  // Batch lookups where the map type has them; the map falls back to a key walk otherwise.
  const entries: [Buffer, MapValue][] = map.perCpu ? map.getBatchPerCpu() : map.getBatch();
  const typed = hex ? null : kernelTyped(map);
  if (ctx.json) ctx.printJson(entries.map(([k, v]) => entryJson(k, v, typed)));
  else {
    for (const [k, v] of entries) printEntry(ctx, k, v, typed);
    ctx.print(`Found ${entries.length} element${entries.length === 1 ? '' : 's'}`);
  }
  return 0;
}

/**
 * `map update PIN --set NAME=VALUE…`: change members of a value its BTF
 * describes (a struct, or a global data section: .data, .bss), leaving the
 * others as they are. Read, change, write: not atomic against a program
 * writing the same value meanwhile. Without --key, a single-entry array's
 * key 0 (global data).
 */
function updateMembers(m: BpfMap, keyHex: string | undefined, sets: string[], flagsText: string | undefined, ctx: CommandContext): number {
  const typed = kernelTyped(m);
  if (!typed?.value.typeId) throw new BpfError('USAGE', `map ${m.name}: no BTF describes its value, so --set has no names to go by: give --value HEX`);
  if (m.perCpu) throw new BpfError('USAGE', `map ${m.name} is per-CPU: --set would write one value to every CPU; give --value HEX`);
  const singleSlot = m.type === BPF_MAP_TYPE.ARRAY && m.maxEntries === 1 && m.keySize === 4;
  if (keyHex === undefined && !singleSlot) throw new BpfError('USAGE', `map ${m.name} has more than one entry: say which with --key HEX`);
  const key = keyHex === undefined ? Buffer.alloc(4) : parseHex(keyHex, '--key');
  const flags = String(flagsText ?? 'any').split(',') as UpdateFlag[];
  updateFlags(flags);
  const current = typed.value.decode(m.get(key) ?? Buffer.alloc(m.valueSize));
  if (current === null || typeof current !== 'object' || Array.isArray(current)) {
    throw new BpfError('USAGE', `map ${m.name}: its value is not a struct or a data section, so it has no members to --set: give --value HEX`);
  }
  const members = current as Record<string, unknown>;
  for (const s of sets) {
    const { name, value } = parseSet(s);
    if (!(name in members)) throw new BpfError('VARIABLE_NOT_FOUND', `map ${m.name}: no member ${name} (its members: ${Object.keys(members).join(', ')})`);
    members[name] = value;
  }
  const written = typed.value.encode(members);
  m.set(key, written, flags);
  // What was written, as the encoder laid it out (padding zeroed).
  const value = toJsonValue(written instanceof Uint8Array ? typed.value.decode(written) : members);
  if (ctx.json) ctx.printJson({ updated: true, key: hexList(key), value });
  else ctx.print(`updated map ${m.name}: key ${spaced(key)}  value: ${oneLine(value)}`);
  return 0;
}

function show(m: BpfMap, pin: string | null, ctx: CommandContext): number {
  const info = m.info();
  const { memlock, frozen } = bpfFdInfo(m.fd.value);
  // Who uses it: every program whose map ids include it.
  const progs = unlessDenied(() => listPrograms({ mapIds: true }).filter((p) => p.mapIds.includes(info.id)), null);
  if (progs === null) ctx.warn?.('the programs using it are not shown: walking program ids needs CAP_SYS_ADMIN');
  const row = {
    id: info.id,
    name: info.name,
    type: mapTypeName(info.type),
    keySize: info.keySize,
    valueSize: info.valueSize,
    maxEntries: info.maxEntries,
    flags: info.flags,
    flagNames: mapFlagNames(info.flags),
    btfId: info.btfId,
    frozen,
    memlock,
    programs: progs?.map((p) => ({ id: p.id, name: p.name, type: progTypeName(p.type) })) ?? null,
    ...holdersOf('map', info.id, ctx, pin),
  };
  if (ctx.json) {
    ctx.printJson(row);
    return 0;
  }
  ctx.print(`map ${row.id}: ${row.name || '(no name)'} (${row.type})`);
  ctx.print(`  entries    up to ${row.maxEntries}, key ${row.keySize} bytes, value ${row.valueSize} bytes`);
  ctx.print(`  flags      0x${row.flags.toString(16)}${row.flagNames.length ? ` (${row.flagNames.join(', ')})` : ''}`);
  if (row.btfId) ctx.print(`  btf        id ${row.btfId}`);
  if (frozen !== null) ctx.print(`  frozen     ${frozen ? 'yes (read-only to user space)' : 'no'}`);
  if (memlock !== null) ctx.print(`  memlock    ${memlock} bytes`);
  if (row.programs !== null) ctx.print(`  used by    ${row.programs.length === 0 ? '-' : row.programs.map((p) => `${p.id} ${p.name || '(no name)'} (${p.type})`).join(', ')}`);
  printHolders(ctx, row);
  return 0;
}

export const map = defineCommand({
  name: 'map',
  summary: 'dump, look up, update, delete map entries (pin path or id:N); list maps; show one; pin one',
  usage:
    'bpf-ts map dump|lookup|update|delete|show|list [PIN_PATH|id:N] [--key HEX] [--value HEX] [--flags any|noexist|exist] [--set NAME=VALUE]… [--hex] [--json] | map pin PIN_PATH|id:N PATH [--json]',
  options: {
    key: { type: 'string' },
    value: { type: 'string' },
    flags: { type: 'string' },
    hex: { type: 'boolean' },
    set: { type: 'string', multiple: true },
  },
  run(positionals, values, ctx) {
    const [sub, target] = positionals;
    if (sub === 'list') {
      const maps = listMaps();
      if (ctx.json)
        ctx.printJson(maps.map((m) => ({ id: m.id, name: m.name, type: mapTypeName(m.type), keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, flags: m.flags, btfId: m.btfId })));
      else
        ctx.print(
          table(
            ['ID', 'NAME', 'TYPE', 'KEY', 'VALUE', 'MAX', 'FLAGS'],
            maps.map((m) => [m.id, m.name, mapTypeName(m.type), m.keySize, m.valueSize, m.maxEntries, '0x' + m.flags.toString(16)]),
          ),
        );
      return 0;
    }
    if (sub === 'pin') {
      if (positionals.length > 3) throw new BpfError('USAGE', `map pin: unexpected argument ${positionals[3]} (usage: ${this.usage})`);
      return pinAt(() => openMapTarget(target), 'map', positionals[2], ctx);
    }
    if (!['dump', 'lookup', 'update', 'delete', 'show'].includes(sub ?? '')) {
      throw new BpfError('USAGE', `map needs a sub-command: dump, lookup, update, delete, show, pin or list (usage: ${this.usage})`);
    }
    using m = openMapTarget(target, { readOnly: sub === 'dump' || sub === 'lookup' || sub === 'show' });
    switch (sub) {
      case 'show':
        return show(m, pinOfTarget(target), ctx);
      case 'dump':
        return dump(m, values.hex === true, ctx);
      case 'lookup': {
        const key = needKey(values);
        const v = m.perCpu ? m.getPerCpu(key) : m.get(key);
        if (v === undefined) throw new BpfError('MAP_NOT_FOUND', `map ${m.name} (${target}): no entry with key ${spaced(key)}`);
        const typed = values.hex ? null : kernelTyped(m);
        if (ctx.json) ctx.printJson(entryJson(key, v, typed));
        else printEntry(ctx, key, v, typed);
        return 0;
      }
      case 'update': {
        if (values.set?.length) {
          if (values.value !== undefined) throw new BpfError('USAGE', 'update takes --value HEX or --set NAME=VALUE, not both');
          return updateMembers(m, values.key, values.set, values.flags, ctx);
        }
        const key = needKey(values);
        if (typeof values.value !== 'string') throw new BpfError('USAGE', 'update needs --value HEX (or --set NAME=VALUE for a map whose BTF describes its value)');
        const value = parseHex(values.value, '--value');
        // "exist,lock": checked by updateFlags (unknown names are a USAGE error, never BPF_ANY).
        const flags = String(values.flags ?? 'any').split(',') as UpdateFlag[];
        updateFlags(flags);
        // A per-CPU map gets the same value on every CPU, as bpftool does.
        if (m.perCpu)
          m.setPerCpu(
            key,
            Array.from({ length: m.cpus }, () => value),
            flags,
          );
        else m.set(key, value, flags);
        if (ctx.json) ctx.printJson({ updated: true, key: hexList(key), value: hexList(value) });
        else ctx.print(`updated map ${m.name}: key ${spaced(key)}`);
        return 0;
      }
      default: {
        const key = needKey(values);
        const existed = m.delete(key);
        if (!existed) throw new BpfError('MAP_NOT_FOUND', `map ${m.name} (${target}): no entry with key ${spaced(key)}`);
        if (ctx.json) ctx.printJson({ deleted: true, key: hexList(key) });
        else ctx.print(`deleted key ${spaced(key)} from map ${m.name}`);
        return 0;
      }
    }
  },
});
