// XDP attach/query/replace/detach over rtnetlink and bpf_link, checked with
// real traffic: ICMP echo from the testenv's namespace A to B, with a DROP
// or PASS program on vethB (B's ingress). Everything happens in namespaces
// this file creates, removed in afterAll even when a test fails.
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { attachXdp, attachXdpLink, detachXdp, listXdp, queryXdp, type XdpLink } from '../../src/attach/xdp.js';
import { BpfLink } from '../../src/link/link.js';
import { setLinkMtu } from '../../src/netlink/link.js';
import { NetlinkSocket } from '../../src/netlink/socket.js';
import { ping } from '../../src/net/icmp.js';
import { withNetns } from '../../src/netns.js';
import * as ffi from '../../src/sys/ffi.js';
import { setupTestEnv, teardownTestEnv, type TestEnv } from '../../src/testenv.js';
import { describeRoot } from '../helpers/root.js';
import { linkReleased } from '../helpers/wait.js';
import { loadXdpReturning, progIdOf, XDP_DROP, XDP_PASS } from './xdp-prog.js';

describeRoot('XDP attach (testenv, ICMP A→B)', () => {
  let env: TestEnv;
  let dropFd = -1;
  let passFd = -1;
  let dropId = 0;
  let passId = 0;
  const links: XdpLink[] = [];

  const replies = async (): Promise<number> => (await ping({ netns: env.nsA, to: env.ipB, count: 10, timeoutMs: 500 })).received;
  const onB = () => ({ iface: env.vethB, netns: env.nsB });

  beforeAll(() => {
    dropFd = loadXdpReturning(XDP_DROP, 'bpfts_drop');
    passFd = loadXdpReturning(XDP_PASS, 'bpfts_pass');
    dropId = progIdOf(dropFd);
    passId = progIdOf(passFd);
    env = setupTestEnv();
  });

  afterEach(() => {
    // Leave both ends clean for the next test whatever happened.
    for (const l of links.splice(0)) l.close();
    if (!env) return;
    for (const [dev, ns] of [
      [env.vethB, env.nsB],
      [env.vethA, env.nsA],
    ] as const) {
      if (queryXdp(dev, { netns: ns }).attached !== 'none') detachXdp(dev, { netns: ns });
    }
  });

  afterAll(() => {
    try {
      if (env) teardownTestEnv(env);
    } finally {
      if (dropFd >= 0) ffi.close(dropFd);
      if (passFd >= 0) ffi.close(passFd);
    }
    expect(existsSync(`/var/run/netns/${env.nsA}`) || existsSync(`/var/run/netns/${env.nsB}`)).toBe(false);
  });

  it('passes 10/10 echo requests with no program', async () => {
    expect(queryXdp(env.vethB, { netns: env.nsB })).toMatchObject({ attached: 'none', progId: 0, programs: [] });
    expect(await replies()).toBe(10);
  });

  for (const mode of ['skb', 'native'] as const) {
    describe(`${mode} mode`, () => {
      it('DROP blocks all 10; query reports the mode and the program id; a second attach is refused and changes nothing', async () => {
        const a = attachXdp({ ...onB(), progFd: dropFd, mode });
        expect(a).toEqual({ ifindex: env.ifindexB, ifname: env.vethB, mode, progId: dropId });
        expect(await replies()).toBe(0);

        const q = queryXdp(env.vethB, { netns: env.nsB });
        expect(q).toMatchObject({ ifindex: env.ifindexB, ifname: env.vethB, attached: mode, progId: dropId });
        expect(mode === 'skb' ? q.skbProgId : q.drvProgId).toBe(dropId);
        expect(q.programs).toEqual([{ mode, progId: dropId, name: 'bpfts_drop', viaLink: false }]);

        let err: unknown;
        try {
          attachXdp({ ...onB(), progFd: passFd, mode });
        } catch (e) {
          err = e;
        }
        expect(err).toMatchObject({ code: 'ALREADY_ATTACHED' });
        expect((err as Error).message).toMatch(/XDP program already attached/); // the kernel's ext-ack, verbatim
        expect((err as Error).message).toMatch(/--replace/);
        expect(queryXdp(env.vethB, { netns: env.nsB }).progId).toBe(dropId);
        expect(await replies()).toBe(0);
      });

      it('replace swaps DROP for PASS atomically; detach restores traffic and query says none', async () => {
        attachXdp({ ...onB(), progFd: dropFd, mode });
        const r = attachXdp({ ...onB(), progFd: passFd, mode, replace: true });
        expect(r).toMatchObject({ mode, progId: passId, replacedProgId: dropId });
        expect(queryXdp(env.vethB, { netns: env.nsB }).progId).toBe(passId);
        expect(await replies()).toBe(10);

        const d = detachXdp(env.vethB, { netns: env.nsB });
        expect(d.detached).toEqual([{ mode, progId: passId }]);
        expect(queryXdp(env.vethB, { netns: env.nsB })).toMatchObject({ attached: 'none', progId: 0, programs: [] });
        expect(await replies()).toBe(10);
      });
    });
  }

  it("'auto' reports the mode the kernel took (native: veth has native XDP)", async () => {
    const a = attachXdp({ ...onB(), progFd: dropFd, mode: 'auto' });
    expect(a.mode).toBe('native');
    expect(queryXdp(env.vethB, { netns: env.nsB }).attached).toBe('native');
    expect(await replies()).toBe(0);
  });

  it('replace with an expected fd only swaps when that program is the attached one', () => {
    attachXdp({ ...onB(), progFd: dropFd, mode: 'skb' });
    expect(() => attachXdp({ ...onB(), progFd: passFd, mode: 'skb', replace: { expectedProgFd: passFd } })).toThrowError(/Active program does not match expected/);
    expect(queryXdp(env.vethB, { netns: env.nsB }).progId).toBe(dropId);
    expect(attachXdp({ ...onB(), progFd: passFd, mode: 'skb', replace: { expectedProgFd: dropFd } }).progId).toBe(passId);
  });

  it('refuses native while skb holds a program, naming the conflict', () => {
    attachXdp({ ...onB(), progFd: dropFd, mode: 'skb' });
    expect(() => attachXdp({ ...onB(), progFd: passFd, mode: 'native' })).toThrowError(
      expect.objectContaining({ code: 'ALREADY_ATTACHED', message: expect.stringMatching(/Native and generic XDP can't be active at the same time.*skb mode/) }),
    );
  });

  it('detaching a mode that holds nothing is NOT_ATTACHED', () => {
    expect(() => detachXdp(env.vethB, { netns: env.nsB })).toThrowError(expect.objectContaining({ code: 'NOT_ATTACHED' }));
    attachXdp({ ...onB(), progFd: dropFd, mode: 'skb' });
    expect(() => detachXdp(env.vethB, { mode: 'native', netns: env.nsB })).toThrowError(expect.objectContaining({ code: 'NOT_ATTACHED', message: expect.stringContaining('skb mode') }));
  });

  describe('through a bpf_link', () => {
    it('attaches, shows as a link in listXdp, and a plain detachXdp removes it (no EBUSY)', async () => {
      const link = attachXdpLink({ ...onB(), progFd: dropFd, mode: 'native' });
      links.push(link);
      expect(link).toMatchObject({ ifindex: env.ifindexB, ifname: env.vethB, mode: 'native', progId: dropId });
      expect(link.id).toBeGreaterThan(0);
      expect(await replies()).toBe(0);

      const listed = listXdp({ netns: env.nsB });
      expect(listed).toEqual([expect.objectContaining({ ifname: env.vethB, attached: 'native', programs: [{ mode: 'native', progId: dropId, name: 'bpfts_drop', viaLink: true, linkId: link.id }] })]);

      // Netlink cannot touch a link-owned program.
      expect(() => attachXdp({ ...onB(), progFd: passFd, mode: 'native' })).toThrowError(
        expect.objectContaining({ code: 'ALREADY_ATTACHED', message: expect.stringContaining(`bpf_link ${link.id}`) }),
      );
      expect(() => attachXdp({ ...onB(), progFd: passFd, mode: 'native', replace: true })).toThrowError(expect.objectContaining({ code: 'ALREADY_ATTACHED' }));

      const d = detachXdp(env.vethB, { netns: env.nsB });
      expect(d.detached).toEqual([{ mode: 'native', progId: dropId, linkId: link.id }]);
      expect(queryXdp(env.vethB, { netns: env.nsB }).attached).toBe('none');
      expect(await replies()).toBe(10);
    });

    it('is a BpfLink: takes program:, update() swaps the program through BPF_LINK_UPDATE', async () => {
      const link = attachXdpLink({ ...onB(), program: dropFd, mode: 'skb' });
      links.push(link);
      expect(link).toBeInstanceOf(BpfLink);
      expect(link.typeName).toBe('xdp');
      expect(link.progId).toBe(dropId);
      expect(await replies()).toBe(0);
      link.update(passFd);
      expect(link.progId).toBe(passId);
      expect(queryXdp(env.vethB, { netns: env.nsB })).toMatchObject({ attached: 'skb', progId: passId });
      expect(await replies()).toBe(10);
      // With expected: refused when another program is the one attached.
      expect(() => link.update(dropFd, { expected: dropFd })).toThrowError(/EPERM/);
      expect(link.progId).toBe(passId);
    });

    it('closing the last link fd detaches the program', async () => {
      const link = attachXdpLink({ ...onB(), progFd: dropFd, mode: 'skb' });
      expect(link.mode).toBe('skb');
      expect(await replies()).toBe(0);
      link.close();
      expect(await linkReleased(link.id)).toBe(true);
      expect(queryXdp(env.vethB, { netns: env.nsB }).attached).toBe('none');
      expect(await replies()).toBe(10);
    });

    it('a second link on a busy hook is ALREADY_ATTACHED', () => {
      attachXdp({ ...onB(), progFd: dropFd, mode: 'native' });
      expect(() => links.push(attachXdpLink({ ...onB(), progFd: passFd, mode: 'native' }))).toThrowError(expect.objectContaining({ code: 'ALREADY_ATTACHED' }));
    });

    it('tells links apart from netlink attachments on the same ifindex in another namespace', () => {
      // Fresh namespaces number their first veth alike: the link info's ifindex alone is ambiguous.
      expect(env.ifindexA).toBe(env.ifindexB);
      const link = attachXdpLink({ ...onB(), progFd: dropFd, mode: 'native' });
      links.push(link);
      attachXdp({ iface: env.vethA, netns: env.nsA, progFd: dropFd, mode: 'native' });
      expect(queryXdp(env.vethA, { netns: env.nsA }).programs).toEqual([expect.objectContaining({ progId: dropId, viaLink: false })]);
      expect(queryXdp(env.vethB, { netns: env.nsB }).programs).toEqual([expect.objectContaining({ viaLink: true, linkId: link.id })]);
      // Detaching A's netlink program must leave B's link alone.
      expect(detachXdp(env.vethA, { netns: env.nsA }).detached).toEqual([{ mode: 'native', progId: dropId }]);
      expect(queryXdp(env.vethB, { netns: env.nsB }).programs).toEqual([expect.objectContaining({ viaLink: true, linkId: link.id })]);
    });

    it('refuses to guess when two namespaces link the same program to the same ifindex', () => {
      const lb = attachXdpLink({ ...onB(), progFd: dropFd, mode: 'skb' });
      const la = attachXdpLink({ iface: env.vethA, netns: env.nsA, progFd: dropFd, mode: 'skb' });
      links.push(lb, la);
      const q = queryXdp(env.vethB, { netns: env.nsB });
      expect(q.programs).toEqual([expect.objectContaining({ viaLink: true })]);
      expect(q.programs[0]!.linkId).toBeUndefined();
      expect(() => detachXdp(env.vethB, { netns: env.nsB })).toThrowError(/several XDP links match/);
      // Both still attached; closing our own link objects is the unambiguous way.
      lb.close();
      expect(queryXdp(env.vethB, { netns: env.nsB }).attached).toBe('none');
      expect(queryXdp(env.vethA, { netns: env.nsA }).programs).toEqual([expect.objectContaining({ viaLink: true, linkId: la.id })]);
    });

    it('a pinned link outlives its fd; detachXdp still removes it', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'bpfts-bpffs-'));
      expect(ffi.mount('bpf', dir, 'bpf', 0)).toBe(0);
      try {
        const link = attachXdpLink({ ...onB(), progFd: dropFd, mode: 'native' });
        link.pin(join(dir, 'xdp_link'));
        link.close();
        expect(queryXdp(env.vethB, { netns: env.nsB }).programs).toEqual([expect.objectContaining({ progId: dropId, viaLink: true, linkId: link.id })]);
        expect(await replies()).toBe(0);
        expect(detachXdp(env.vethB, { netns: env.nsB }).detached[0]).toMatchObject({ linkId: link.id });
        expect(await replies()).toBe(10);
        expect(existsSync(join(dir, 'xdp_link'))).toBe(true); // the (now defunct) link is still pinned
      } finally {
        ffi.umount2(dir, 2 /* MNT_DETACH */);
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('errors', () => {
    it('a missing interface is NO_SUCH_INTERFACE naming it', () => {
      for (const f of [
        () => attachXdp({ iface: 'bpfts-nope0', netns: env.nsB, progFd: dropFd, mode: 'skb' }),
        () => attachXdpLink({ iface: 'bpfts-nope0', netns: env.nsB, progFd: dropFd }),
        () => queryXdp('bpfts-nope0', { netns: env.nsB }),
        () => detachXdp('bpfts-nope0', { netns: env.nsB }),
      ]) {
        expect(f).toThrowError(expect.objectContaining({ code: 'NO_SUCH_INTERFACE', message: expect.stringContaining('"bpfts-nope0"') }));
      }
      // vethA exists only in namespace A: names resolve in the target namespace.
      expect(() => attachXdp({ iface: env.vethA, netns: env.nsB, progFd: dropFd })).toThrowError(expect.objectContaining({ code: 'NO_SUCH_INTERFACE' }));
      expect(() => queryXdp(999, { netns: env.nsB })).toThrowError(expect.objectContaining({ code: 'NO_SUCH_INTERFACE' }));
    });

    it('a missing namespace is NO_SUCH_NETNS', () => {
      expect(() => attachXdp({ iface: 'lo', netns: 'bpfts-no-such-ns', progFd: dropFd })).toThrowError(expect.objectContaining({ code: 'NO_SUCH_NETNS' }));
    });

    it('native XDP on a driver without it says so (kernel text + --mode skb hint)', () => {
      expect(() => attachXdp({ iface: 'lo', netns: env.nsB, progFd: dropFd, mode: 'native' })).toThrowError(/Underlying driver does not support XDP in native mode.*try --mode skb/);
    });

    it('native XDP with a too-large peer MTU is ERANGE with the kernel text and an MTU hint', () => {
      const setMtuA = (mtu: number) =>
        withNetns(env.nsA, () => {
          using sock = NetlinkSocket.open();
          setLinkMtu(sock, env.ifindexA, mtu);
        });
      setMtuA(9000);
      try {
        expect(() => attachXdp({ ...onB(), progFd: dropFd, mode: 'native' })).toThrowError(/ERANGE: veth: Peer MTU is too large to set XDP.*MTU too large for native XDP/);
        expect(queryXdp(env.vethB, { netns: env.nsB }).attached).toBe('none');
      } finally {
        setMtuA(1500);
      }
    });

    it('hw mode on a device without offload fails without attaching anything', () => {
      expect(() => attachXdp({ ...onB(), progFd: dropFd, mode: 'hw' })).toThrowError(expect.objectContaining({ code: 'NETLINK' }));
      expect(queryXdp(env.vethB, { netns: env.nsB }).attached).toBe('none');
    });
  });
});
