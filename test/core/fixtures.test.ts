// Every CO-RE relocation of the CO-RE fixtures, resolved against the
// committed 6.18 vmlinux BTF, checked against values known independently:
//  - network headers: the RFC layouts (RFC 791 IPv4, RFC 792 ICMP, IEEE 802.3
//    Ethernet) and struct xdp_md from include/uapi/linux/bpf.h;
//  - task_struct / mm_struct: read with `bpftool btf dump file
//    fixtures/vmlinux-6.18.btf.gz format raw` (after gunzip) when the blob was
//    committed: task_struct [114] 'group_leader' bits_offset=10624,
//    'pid' 10112, 'tgid' 10144, 'real_parent' 10240, 'mm' 9088,
//    'comm' type_id=334 (ARRAY char nr_elems=16), 'in_execve' bits_offset=9539
//    bitfield_size=1 type_id=9 (INT 'unsigned int' size=4); mm_struct's
//    anonymous member [745] 'map_count' bits_offset=1408;
//  - enum bpf_map_type: BPF_MAP_TYPE_RINGBUF = 27 (include/uapi/linux/bpf.h).
import { describe, expect, it } from 'vitest';
import { openObject } from '../../src/collection.js';
import { BpfError } from '../../src/errors.js';
import { applyCoreRelocations, CoreResolver } from '../../src/object/core/index.js';
import { coreTargetFromBtf } from '../../src/btf/kernel.js';
import { targetBtf } from '../helpers/target-btf.js';
import { Insns } from '../../src/object/instruction.js';

function resolveAll(path: string) {
  const spec = openObject(path);
  const resolver = new CoreResolver(spec.file.btf!, coreTargetFromBtf(targetBtf()));
  return spec.programs.flatMap((p) =>
    p.coreRelocations.map((r) => {
      const res = resolver.resolve(r);
      return { program: p, relo: r, res, name: spec.file.btf!.typeById(r.typeId).name };
    }),
  );
}

const bits = (n: number) => BigInt(n / 8);

describe('core_echo_dropper against vmlinux 6.18', () => {
  for (const variant of ['', '.clang14']) {
    const path = `fixtures/core_echo_dropper${variant}.o`;
    it(`${path}: every header field resolves to its RFC offset`, () => {
      const all = resolveAll(path);
      expect(all.length).toBe(6);
      const byField = new Map(all.map((x) => [`${x.name}.${x.res.local.split('.').pop()}`, x.res]));
      // struct xdp_md { __u32 data; __u32 data_end; … } (UAPI)
      expect(byField.get('xdp_md.data')?.targetValue).toBe(0n);
      expect(byField.get('xdp_md.data_end')?.targetValue).toBe(4n);
      // Ethernet: dst(6) src(6) ethertype at 12.
      expect(byField.get('ethhdr.h_proto')?.targetValue).toBe(12n);
      // IPv4: protocol is byte 9; ihl sits in byte 0.
      expect(byField.get('iphdr.protocol')?.targetValue).toBe(9n);
      expect(byField.get('iphdr.ihl')?.targetValue).toBe(0n);
      // ICMP: type is byte 0.
      expect(byField.get('icmphdr.type')?.targetValue).toBe(0n);
      for (const { res } of all) {
        expect(res.poison).toBe(false);
        expect(res.kindName).toBe('field_byte_offset');
        // The fixture was compiled against this kernel's vmlinux.h: nothing moves.
        expect(res.targetValue).toBe(res.localValue);
        expect(res.target?.btf).toBe(targetBtf());
      }
    });
  }

  it('patching leaves the loads as compiled (offsets identical on this kernel)', () => {
    const spec = openObject('fixtures/core_echo_dropper.o');
    const p = spec.programs[0]!;
    const bytes = p.instructions.slice();
    const r = applyCoreRelocations(bytes, true, p.coreRelocations, new CoreResolver(spec.file.btf!, coreTargetFromBtf(targetBtf())), 'test');
    expect(r.poisoned).toEqual([]);
    expect(Buffer.from(bytes).equals(Buffer.from(p.instructions))).toBe(true);
    // The iphdr->protocol load is LDX B at offset 9.
    const insns = new Insns(bytes, true);
    const proto = r.applied.find((a) => a.result.local === 'struct iphdr.protocol')!;
    expect(insns.code(proto.relocation.insnOff)).toBe(0x71); // BPF_LDX | BPF_MEM | BPF_B
    expect(insns.off(proto.relocation.insnOff)).toBe(9);
  });
});

describe('core_reads against vmlinux 6.18', () => {
  for (const variant of ['', '.clang14']) {
    const path = `fixtures/core_reads${variant}.o`;
    it(`${path}: every relocation kind resolves to the independently known value`, () => {
      const all = resolveAll(path);
      const get = (kind: string, local: string) => {
        const hits = all.filter((x) => x.res.kindName === kind && x.res.local === local);
        expect(hits.length, `${kind} ${local}`).toBeGreaterThan(0);
        // Every relocation of the same field and kind resolves identically.
        for (const h of hits) expect(h.res.targetValue).toBe(hits[0]!.res.targetValue);
        return hits[0]!.res;
      };
      expect(get('field_byte_offset', 'struct task_struct.group_leader').targetValue).toBe(bits(10624));
      expect(get('field_byte_offset', 'struct task_struct.pid').targetValue).toBe(bits(10112));
      expect(get('field_byte_offset', 'struct task_struct.tgid').targetValue).toBe(bits(10144));
      expect(get('field_byte_offset', 'struct task_struct.real_parent').targetValue).toBe(bits(10240));
      expect(get('field_byte_offset', 'struct task_struct.mm').targetValue).toBe(bits(9088));
      // map_count sits in mm_struct's anonymous first member: matched through it by name.
      const mapCount = get('field_byte_offset', 'struct mm_struct.map_count');
      expect(mapCount.targetValue).toBe(bits(1408));
      expect(get('field_exists', 'struct task_struct.pid').targetValue).toBe(1n);
      // A field only the local flavour has: 0, not poisoned.
      const never = get('field_exists', 'struct task_struct___local.field_that_never_existed');
      expect(never).toMatchObject({ targetValue: 0n, poison: false, localValue: 1n });
      expect(get('type_exists', 'struct bpf_map')).toMatchObject({ targetValue: 1n, poison: false });
      const madeUp = get('type_exists', 'struct type_not_in_any_kernel___local');
      expect(madeUp).toMatchObject({ targetValue: 0n, poison: false, target: null });
      expect(madeUp.reason).toBe('no struct type_not_in_any_kernel in kernel BTF');
      expect(get('enumval_value', 'enum bpf_map_type::BPF_MAP_TYPE_RINGBUF').targetValue).toBe(27n);
      expect(get('enumval_exists', 'enum bpf_map_type::BPF_MAP_TYPE_RINGBUF').targetValue).toBe(1n);
      expect(get('field_byte_size', 'struct task_struct.comm').targetValue).toBe(16n);
      expect(get('type_size', 'struct iphdr').targetValue).toBe(20n);

      // in_execve: 1-bit field at bit 9539 of a 4-byte unsigned int. libbpf's
      // rule: the smallest aligned load of the base type's size covering it:
      // 4 bytes at 9539/8/4*4 = 1192; the field is bit 9539-1192*8 = 3 of it.
      expect(get('field_byte_offset', 'struct task_struct.in_execve').targetValue).toBe(1192n);
      expect(get('field_byte_size', 'struct task_struct.in_execve').targetValue).toBe(4n);
      expect(get('field_lshift_u64', 'struct task_struct.in_execve').targetValue).toBe(BigInt(64 - (3 + 1)));
      expect(get('field_rshift_u64', 'struct task_struct.in_execve').targetValue).toBe(63n);
      expect(get('field_signed', 'struct task_struct.in_execve').targetValue).toBe(0n);

      // iphdr version/ihl: one byte, ihl the low nibble (bits 0-3, little-endian
      // bitfield order), version the high nibble (bits 4-7).
      expect(get('field_byte_offset', 'struct iphdr.ihl').targetValue).toBe(0n);
      expect(get('field_byte_size', 'struct iphdr.ihl').targetValue).toBe(1n);
      expect(get('field_lshift_u64', 'struct iphdr.ihl').targetValue).toBe(60n); // 64 - (0 + 4)
      expect(get('field_rshift_u64', 'struct iphdr.ihl').targetValue).toBe(60n);
      expect(get('field_byte_size', 'struct iphdr.version').targetValue).toBe(1n);
      expect(get('field_lshift_u64', 'struct iphdr.version').targetValue).toBe(56n); // 64 - (4 + 4)
      expect(get('field_rshift_u64', 'struct iphdr.version').targetValue).toBe(60n);
      expect(get('field_signed', 'struct iphdr.version').targetValue).toBe(0n);

      // Apart from the two "missing" answers, this kernel agrees with the compiler,
      // except where the compiler chose a wider bitfield load than libbpf's rule.
      for (const { res } of all) {
        expect(res.poison).toBe(false);
        if (res.target && res.validate) expect(res.targetValue).toBe(res.localValue);
      }
    });
  }

  it('patching writes 0 into the two "does it exist?" instructions and nothing else changes meaning', () => {
    const spec = openObject('fixtures/core_reads.o');
    const p = spec.programs[0]!;
    const bytes = p.instructions.slice();
    const { applied, poisoned } = applyCoreRelocations(bytes, true, p.coreRelocations, new CoreResolver(spec.file.btf!, coreTargetFromBtf(targetBtf())), 'test');
    expect(poisoned).toEqual([]);
    const before = new Insns(p.instructions, true);
    const after = new Insns(bytes, true);
    for (const a of applied) {
      const i = a.relocation.insnOff;
      if (a.result.local.includes('field_that_never_existed') || a.result.local.includes('type_not_in_any_kernel')) {
        expect(before.imm(i)).toBe(1);
        expect(after.imm(i)).toBe(0);
      }
      if (a.result.kindName === 'enumval_value') {
        expect(after.isLdImm64(i)).toBe(true);
        expect(after.imm(i)).toBe(27);
        expect(after.imm(i + 1)).toBe(0);
      }
    }
  });
});

describe('core_missing against vmlinux 6.18', () => {
  it('the missing field poisons its instruction with call 0xbad2310 and says why', () => {
    const spec = openObject('fixtures/core_missing.o');
    const p = spec.programs[0]!;
    const bytes = p.instructions.slice();
    const { poisoned } = applyCoreRelocations(bytes, true, p.coreRelocations, new CoreResolver(spec.file.btf!, coreTargetFromBtf(targetBtf())), 'test');
    expect(poisoned).toHaveLength(1);
    const [x] = poisoned;
    expect(x!.message).toBe(`struct task_struct___missing: field no_such_field_xyz not found in kernel BTF (insn ${x!.insn})`);
    const insns = new Insns(bytes, true);
    expect(insns.code(x!.insn)).toBe(0x85); // BPF_JMP | BPF_CALL
    expect(insns.imm(x!.insn)).toBe(195896080);
    expect(insns.src(x!.insn)).toBe(0);
  });

  it('the resolver itself does not throw for a missing field (the verifier decides if it is reachable)', () => {
    const spec = openObject('fixtures/core_missing.o');
    const r = new CoreResolver(spec.file.btf!, coreTargetFromBtf(targetBtf()));
    const res = r.resolve(spec.programs[0]!.coreRelocations[0]!);
    expect(res).toMatchObject({ poison: true, target: null, localType: 'struct task_struct___missing' });
    expect(() => r.resolve({ typeId: 0, accessStr: '0:0', kind: 0 })).toThrow(BpfError);
  });
});
