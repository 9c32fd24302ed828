import { BpfError } from '../../src/errors.js';

/** The BpfError `fn` throws. Anything else it throws propagates; not throwing fails the test. */
export function thrown(fn: () => unknown): BpfError {
  try {
    fn();
  } catch (e) {
    if (e instanceof BpfError) return e;
    throw e;
  }
  throw new Error('expected a BpfError');
}

/** "CODE: message" of the BpfError `fn` throws (what a test compares whole). */
export function codeAndMessage(fn: () => unknown): string {
  const e = thrown(fn);
  return `${e.code}: ${e.message}`;
}
