// A program written as instructions, run by the kernel and by the emulator.
// Run from the repository root, as root:  sudo node docs/examples/instructions.mjs
import { BpfObjectSpec } from 'bpf-ts';
import { assemble } from 'bpf-ts/asm';

// XDP: drop frames shorter than 64 bytes, pass the others; r0 = XDP_DROP (1) or XDP_PASS (2).
const { bytes } = assemble(`
  r2 = *(u32 *)(r1 + 4)   # data_end
  r1 = *(u32 *)(r1 + 0)   # data
  r2 -= r1                # the frame's length
  r0 = 1
  if r2 < 64 goto +1
  r0 = 2
  exit`);
const spec = BpfObjectSpec.fromInstructions(bytes, { type: 'xdp', name: 'min_len' });

const coll = spec.load(); // the kernel's verifier checks it like any object's program
const emulated = spec.emulate(); // no kernel needed for this one
try {
  for (const len of [60, 64, 1500]) {
    const kernel = coll.program('min_len').testRun(Buffer.alloc(len));
    const emu = emulated.program('min_len').testRun(Buffer.alloc(len));
    console.log(`${len} bytes: kernel ${kernel.verdict}, emulator ${emu.verdict}`);
  }
} finally {
  coll.close();
}
