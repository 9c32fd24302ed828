// A verifier run interrupted by signals returns EAGAIN (the kernel checks
// signal_pending while verifying). The bpf() wrapper retries it; when every
// attempt is interrupted (a profiler's SIGPROF every 100 µs did it), the
// partial log is where the verifier stopped, not a verdict: the error must
// say EAGAIN, not "rejected by the verifier at <the first instruction>".
// The syscall is faked through the wrapper's seam: no root, no kernel.
import { describe, expect, test } from 'vitest';
import { VerifierError } from '../src/errors.js';
import { loadProgram } from '../src/programs/load.js';
import * as cmd from '../src/sys/bpf-cmd.js';
import { EAGAIN } from '../src/sys/errno.js';
import { BpfSyscallError } from '../src/sys/syscall-error.js';
import { MAX_BPF_ATTEMPTS, withBpfSyscall } from '../src/sys/wrapper.js';
import { BPF_PROG_TYPE } from '../src/uapi/bpf.js';
import { programSpec } from './helpers/program-spec.js';

// r0 = 2; exit
const insns = new Uint8Array([0xb7, 0, 0, 0, 2, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
const spec = programSpec({ name: 'pass', section: 'xdp', type: BPF_PROG_TYPE.XDP, instructions: insns });

describe('PROG_LOAD interrupted on every attempt', () => {
  test('is reported as EAGAIN from bpf(), not as a verifier verdict', () => {
    const calls: number[] = [];
    let err: unknown;
    withBpfSyscall(
      (c) => {
        calls.push(c);
        return -EAGAIN;
      },
      () => {
        try {
          loadProgram(spec, { source: 'test.o', littleEndian: true, license: 'GPL', mapFds: new Map() });
        } catch (e) {
          err = e;
        }
      },
    );
    expect(err).toBeInstanceOf(BpfSyscallError);
    expect(err).not.toBeInstanceOf(VerifierError);
    expect((err as BpfSyscallError).errno).toBe(EAGAIN);
    expect((err as Error).message).toContain('program pass');
    // Both the attempt without a log and the one with a log were retried in full.
    expect(calls).toEqual(Array(2 * MAX_BPF_ATTEMPTS).fill(cmd.BPF_PROG_LOAD));
  });
});
