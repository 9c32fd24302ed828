// tcx programs attached without a link (BPF_PROG_ATTACH) are detached by
// their place on the hook — "the first", or "the one after program id N" —
// not by an fd opened from their id (BPF_PROG_GET_FD_BY_ID needs
// CAP_SYS_ADMIN; attaching needed only CAP_NET_ADMIN). Checked here on
// every position, next to a link that must stay; the unprivileged run is in
// test/security/caps-matrix.test.ts.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BPF_ATTACH_TYPE } from '../../src/uapi/bpf.js';
import { progAttach } from '../../src/sys/prog-attach-attr.js';
import { attachTcx, detachTcx, queryTcx } from '../../src/attach/tcx.js';
import { openObject, type BpfCollection } from '../../src/collection.js';
import { withNetns } from '../../src/netns.js';
import { setupTestEnv, teardownTestEnv, type TestEnv } from '../../src/testenv.js';
import { fixture, uniqueName } from '../helpers/cli.js';
import { describeRoot } from '../helpers/root.js';

describeRoot('tcx detach without a program fd', () => {
  let env: TestEnv;
  const colls: BpfCollection[] = [];
  const load = () => {
    const c = openObject(fixture('tc_shared_map.o')).load({ programs: ['tc_ingress'], ignorePinning: true });
    colls.push(c);
    return c.program('tc_ingress');
  };
  const onHook = () => queryTcx(env.vethB, { netns: env.nsB, direction: 'ingress' }).map((p) => ({ progId: p.progId, linkId: p.linkId }));
  const attachPlain = (progFd: number) => withNetns(env.nsB, () => progAttach({ target: env.ifindexB, progFd, attachType: BPF_ATTACH_TYPE.TCX_INGRESS }, 'test attach'));

  beforeAll(() => {
    env = setupTestEnv({ name: uniqueName('tcxd') });
  }, 60_000);
  afterAll(() => {
    try {
      if (env) detachTcx(env.vethB, { netns: env.nsB });
    } finally {
      for (const c of colls) c.close();
      if (env) teardownTestEnv(env);
    }
  });

  it('middle, last, then first: each detaches exactly the program asked for', () => {
    const [a, b, c] = [load(), load(), load()];
    for (const p of [a, b, c]) attachPlain(p.fd.value);
    expect(onHook()).toEqual([a, b, c].map((p) => ({ progId: p.id, linkId: 0 })));

    expect(detachTcx(env.vethB, { netns: env.nsB, direction: 'ingress', progId: b.id }).detached).toEqual([{ direction: 'ingress', progId: b.id, linkId: 0 }]);
    expect(onHook()).toEqual([a, c].map((p) => ({ progId: p.id, linkId: 0 })));
    expect(detachTcx(env.vethB, { netns: env.nsB, direction: 'ingress', progId: c.id }).detached).toEqual([{ direction: 'ingress', progId: c.id, linkId: 0 }]);
    expect(onHook()).toEqual([{ progId: a.id, linkId: 0 }]);
    expect(detachTcx(env.vethB, { netns: env.nsB, direction: 'ingress', progId: a.id }).detached).toEqual([{ direction: 'ingress', progId: a.id, linkId: 0 }]);
    expect(onHook()).toEqual([]);
  });

  it('a program after a link is detached; the link stays', () => {
    const l = load();
    const a = load();
    using link = attachTcx({ iface: env.vethB, netns: env.nsB, direction: 'ingress', progFd: l.fd.value });
    attachPlain(a.fd.value);
    expect(onHook()).toEqual([
      { progId: l.id, linkId: link.id },
      { progId: a.id, linkId: 0 },
    ]);
    expect(detachTcx(env.vethB, { netns: env.nsB, direction: 'ingress', progId: a.id }).detached).toEqual([{ direction: 'ingress', progId: a.id, linkId: 0 }]);
    expect(onHook()).toEqual([{ progId: l.id, linkId: link.id }]);
  });
});
