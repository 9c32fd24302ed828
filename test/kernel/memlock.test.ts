// RLIMIT_MEMLOCK handling: raising is idempotent and the retry wrapper only
// retries EPERM while the limit is finite.
import { expect, test } from 'vitest';
import { describeRoot } from '../helpers/root.js';
import { memlockIsLimited, memlockLimit, raiseMemlock, withMemlockRetry } from '../../src/sys/memlock.js';

describeRoot('memlock', () => {
  test('raiseMemlock lifts the soft limit to infinity, or to the hard limit without CAP_SYS_RESOURCE', () => {
    const infinite = raiseMemlock();
    const lim = memlockLimit();
    if (infinite) expect(lim).toEqual({ cur: null, max: null });
    else expect(lim.cur).toBe(lim.max);
    expect(memlockIsLimited()).toBe(!infinite);
    expect(raiseMemlock()).toBe(infinite);
  });

  test('withMemlockRetry returns successes and non-EPERM failures untouched, once', () => {
    let calls = 0;
    expect(withMemlockRetry(() => (calls++, 5))).toBe(5);
    expect(withMemlockRetry(() => (calls++, -22))).toBe(-22);
    // Nothing left to raise after the test above: EPERM is a real permission problem, no retry.
    expect(withMemlockRetry(() => (calls++, -1))).toBe(-1);
    expect(calls).toBe(3);
  });
});
