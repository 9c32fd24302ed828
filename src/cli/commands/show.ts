// bpf-ts show: every interface with an XDP or TC program, like `bpftool net
// list`: XDP slots, cls_bpf filters on clsact hooks, and tcx programs. The
// JSON "tc" array is left out when there is none, so output for XDP-only
// setups is as it was.

import { queryCgroup, resolveCgroup } from '../../attach/cgroup.js';
import { listTc } from '../../attach/tc.js';
import { listTcx } from '../../attach/tcx.js';
import { listXdp } from '../../attach/xdp.js';
import { existsSync, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { BpfError } from '../../errors.js';
import { dumpLinks } from '../../netlink/link.js';
import { NetlinkSocket } from '../../netlink/socket.js';
import { withNetns } from '../../netns.js';
import { type CommandContext, defineCommand } from '../command.js';
import { table } from '../format.js';

export const show = defineCommand({
  name: 'show',
  summary: 'list interfaces with XDP and TC programs: hook, program id and name, link or netlink',
  usage: 'bpf-ts show [--netns NAME] [--all] | --cgroup PATH [--effective] [--tree] [--json]  (--all: also every interface, with or without programs)',
  options: { netns: { type: 'string' }, cgroup: { type: 'string' }, effective: { type: 'boolean' }, tree: { type: 'boolean' }, all: { type: 'boolean' } },
  run(positionals, values, ctx) {
    if (positionals.length !== 0) throw new BpfError('USAGE', `show takes no positional arguments (usage: ${this.usage})`);
    if (values.cgroup !== undefined && values.all) throw new BpfError('USAGE', '--all lists interfaces; it does not go with --cgroup');
    if (values.cgroup !== undefined) return (values.tree ? showCgroupTree : showCgroup)(values.cgroup, values.effective === true, ctx);
    if (values.effective || values.tree) throw new BpfError('USAGE', `${values.tree ? '--tree' : '--effective'} goes with --cgroup`);
    const netns = values.netns;
    const rows = listXdp({ netns }).flatMap((s) =>
      s.programs.map((p) => ({
        interface: s.ifname,
        ifindex: s.ifindex,
        mode: p.mode,
        progId: p.progId,
        name: p.name ?? null,
        link: p.viaLink,
        ...(p.linkId !== undefined ? { linkId: p.linkId } : {}),
      })),
    );
    const tc = [
      ...listTc({ netns }).map((f) => ({
        interface: f.ifname,
        ifindex: f.ifindex,
        direction: f.direction,
        priority: f.priority,
        handle: f.handle,
        progId: f.progId ?? null,
        name: f.progName ?? null,
        directAction: f.directAction ?? false,
        link: false,
      })),
      // tcx hooks have no priority or handle, and only direct-action semantics.
      ...listTcx({ netns }).map((t) => ({
        interface: t.ifname,
        ifindex: t.ifindex,
        direction: t.direction,
        priority: null,
        handle: null,
        progId: t.progId,
        name: t.progName ?? null,
        directAction: true,
        link: t.linkId !== 0,
        ...(t.linkId ? { linkId: t.linkId } : {}),
      })),
    ];
    // --all: every device of the namespace, with how many XDP and TC programs it has.
    const interfaces = values.all
      ? withNetns(netns, () => {
          using sock = NetlinkSocket.open();
          return dumpLinks(sock);
        }).map((l) => ({
          interface: l.ifname,
          ifindex: l.ifindex,
          xdp: rows.filter((r) => r.ifindex === l.ifindex).length,
          tc: tc.filter((r) => r.ifindex === l.ifindex).length,
        }))
      : undefined;
    if (ctx.json) {
      ctx.printJson({ xdp: rows, ...(tc.length ? { tc } : {}), ...(interfaces ? { interfaces } : {}), ...(netns ? { netns } : {}) });
      return 0;
    }
    if (interfaces) {
      ctx.print(
        table(
          ['INTERFACE', 'IFINDEX', 'XDP', 'TC'],
          interfaces.map((i) => [i.interface, i.ifindex, i.xdp, i.tc]),
        ),
      );
      ctx.print('');
    }
    if (rows.length === 0 && tc.length === 0) {
      ctx.print(`no XDP or TC programs are attached to any interface${netns ? ` of network namespace ${netns}` : ''}`);
      return 0;
    }
    if (rows.length === 0) ctx.print(`no XDP programs attached${netns ? ` in netns ${netns}` : ''}`);
    else
      ctx.print(
        table(
          ['INTERFACE', 'IFINDEX', 'MODE', 'ID', 'NAME', 'ATTACHED BY'],
          rows.map((r) => [r.interface, r.ifindex, r.mode, r.progId, r.name, r.link ? `bpf_link${r.linkId !== undefined ? ' ' + r.linkId : ''}` : 'netlink']),
        ),
      );
    if (tc.length) {
      ctx.print('');
      ctx.print(
        table(
          ['INTERFACE', 'IFINDEX', 'TC HOOK', 'PRIO', 'HANDLE', 'ID', 'NAME', 'ATTACHED BY'],
          tc.map((r) => [
            r.interface,
            r.ifindex,
            r.direction,
            r.priority,
            r.handle === null ? null : `0x${r.handle.toString(16)}`,
            r.progId,
            r.name,
            r.link ? `tcx bpf_link ${'linkId' in r ? r.linkId : ''}` : r.priority === null ? 'tcx' : `clsact${r.directAction ? ' da' : ''}`,
          ]),
        ),
      );
    }
    return 0;
  },
});

/** The programs BPF_PROG_QUERY reports on each hook of one cgroup, as show --cgroup prints them. */
function cgroupPrograms(path: string, effective: boolean) {
  return queryCgroup(path, { effective }).map((p) => ({
    attachType: p.attachTypeName,
    progId: p.progId,
    name: p.progName ?? null,
    ...(effective ? {} : { flags: p.attachFlags & 2 ? 'multi' : p.attachFlags & 1 ? 'override' : '' }),
    link: p.linkId !== undefined,
    ...(p.linkId !== undefined ? { linkId: p.linkId } : {}),
  }));
}

type CgroupRow = ReturnType<typeof cgroupPrograms>[number];

function cgroupTable(programs: CgroupRow[]): string {
  return table(
    ['ID', 'ATTACH TYPE', 'NAME', 'FLAGS', 'ATTACHED BY'],
    programs.map((p) => [p.progId, p.attachType, p.name, 'flags' in p ? (p.flags ?? null) : null, p.link ? `bpf_link ${p.linkId ?? ''}` : 'prog_attach']),
  );
}

/** `show --cgroup PATH`: what BPF_PROG_QUERY reports for each hook of a cgroup, like `bpftool cgroup show`. */
function showCgroup(arg: string, effective: boolean, ctx: CommandContext): number {
  const path = resolveCgroup(arg);
  const programs = cgroupPrograms(path, effective);
  if (ctx.json) ctx.printJson({ cgroup: path, ...(effective ? { effective: true } : {}), programs });
  else if (programs.length === 0) ctx.print(`no programs attached to cgroup ${path}${effective ? ' (effective)' : ''}`);
  else ctx.print(cgroupTable(programs));
  return 0;
}

/** Every cgroup at and under `root`, parents first, names in order; never through a symlink. */
function cgroupsUnder(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    out.push(dir);
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      return; // removed meanwhile, or not ours to read
    }
    for (const n of names) {
      const p = join(dir, n);
      try {
        if (lstatSync(p).isDirectory()) walk(p);
      } catch {
        // removed meanwhile
      }
    }
  };
  walk(root);
  return out;
}

/**
 * `show --cgroup PATH --tree`: the cgroups at and under PATH that have
 * programs, each with them, like `bpftool cgroup tree` (systemd attaches
 * device and firewall programs to many of a host's cgroups).
 */
function showCgroupTree(arg: string, effective: boolean, ctx: CommandContext): number {
  const root = resolveCgroup(arg);
  const cgroups = cgroupsUnder(root).flatMap((cgroup) => {
    let programs: CgroupRow[];
    try {
      programs = cgroupPrograms(cgroup, effective);
    } catch (e) {
      // A cgroup removed while the tree was walked.
      if (e instanceof BpfError && e.code === 'IO' && !existsSync(cgroup)) return [];
      throw e;
    }
    return programs.length ? [{ cgroup, programs }] : [];
  });
  if (ctx.json) ctx.printJson({ cgroup: root, tree: true, ...(effective ? { effective: true } : {}), cgroups });
  else if (cgroups.length === 0) ctx.print(`no programs attached to cgroup ${root} or any under it${effective ? ' (effective)' : ''}`);
  else
    ctx.print(
      cgroups
        .map(({ cgroup, programs }) =>
          [
            cgroup,
            ...cgroupTable(programs)
              .split('\n')
              .map((l) => `  ${l}`),
          ].join('\n'),
        )
        .join('\n\n'),
    );
  return 0;
}
