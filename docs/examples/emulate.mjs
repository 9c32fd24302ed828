// Assemble a program, run it in the emulator, disassemble it. No root, no kernel.
// Run from the repository root:  node docs/examples/emulate.mjs
import { assemble, disassemble } from 'bpf-ts/asm';
import { Memory, Vm } from 'bpf-ts/vm';

// Sum the bytes of a buffer: r1 = its address, r2 = its length.
const { bytes } = assemble(`
    r0 = 0
loop:
    if r2 == 0x0 goto done
    r3 = *(u8 *)(r1 + 0)
    r0 += r3
    r1 += 1
    r2 += -1
    goto loop
done:
    exit
`);

const vm = new Vm({ instructions: bytes, name: 'sum' }, { entryRegs: [1, 2] });
const data = vm.memory.add('data', Uint8Array.from([1, 2, 3, 250]));
const r = vm.run([Memory.address(data.id), 4n]);
console.log(`sum = ${r.retval} after ${r.instructions} instructions`);

for (const l of disassemble(bytes)) console.log(`${String(l.slot).padStart(2)}: ${l.text}`);

// One byte too many: the fault names the instruction.
try {
  vm.run([Memory.address(data.id), 5n]);
} catch (e) {
  console.log(`${e.code}: ${e.message}`);
}
