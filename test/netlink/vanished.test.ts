// Listings walk a namespace's devices one by one after one dump: a device
// deleted in between (other work on the host) is left out, but a failure on
// a device that is still there is never swallowed. No root needed: `lo`
// (ifindex 1) exists in every namespace.
import { describe, expect, it } from 'vitest';
import { unlessVanished } from '../../src/attach/iface.js';
import { BpfError } from '../../src/errors.js';

const fail = (): never => {
  throw new BpfError('SYSCALL', 'BPF_PROG_QUERY: ENODEV');
};

describe('unlessVanished', () => {
  it('returns the fallback when the device is gone', () => {
    expect(unlessVanished({ ifindex: 0x7ffffff0, ifname: 'gone0' }, fail, [])).toEqual([]);
  });

  it('returns the fallback when the index now belongs to another device', () => {
    expect(unlessVanished({ ifindex: 1, ifname: 'renamed-away' }, fail, 'fallback')).toBe('fallback');
  });

  it('rethrows when the device is still there', () => {
    expect(() => unlessVanished({ ifindex: 1, ifname: 'lo' }, fail, [])).toThrow('BPF_PROG_QUERY: ENODEV');
  });

  it('passes a result through untouched', () => {
    expect(unlessVanished({ ifindex: 1, ifname: 'lo' }, () => [1, 2], [])).toEqual([1, 2]);
  });
});
