// The emulator's fast tier: a program compiled to one JavaScript function.
// Registers become local int32 pairs (l0/h0 … l10/h10) the engine keeps in
// machine registers, every field of an instruction becomes a constant, and
// control flow is a `switch (pc)` over basic blocks that fall through into
// each other. The budget is charged once per block. Semantics are the
// interpreter's (vm.ts), which stays the reference: both run the same tests.
//
// Rare or heavy operations (64-bit mul/div/mod, register shifts, atomics,
// helpers) call out to the shared code with the registers written back.

import { type Insn, slots, withSlots } from '../asm/insn.js';
import * as op from '../asm/opcode.js';
import { jumpTarget } from '../asm/validate.js';
import * as A from './arith.js';
import { FUNC_ADDR_ID } from './memory.js';
import type { Vm } from './vm.js';

/** Programs longer than this stay interpreted (very large functions are not optimised by the engine). */
export const MAX_COMPILED_SLOTS = 8192;

export type CompiledRun = (budget: number, entry: number) => number;

const R = (r: number) => `l${r}`;
const Hr = (r: number) => `h${r}`;

/** Compile `vm`'s program; the function runs it with registers preloaded from vm.lo/vm.hi and returns the budget left. */
export function compile(vm: Vm): CompiledRun {
  const insns = vm.insns;
  const total = vm.slotCount;
  const le = vm.littleEndian;
  // Block starts: entry, jump and call targets, function addresses, and whatever follows a jump, call or exit.
  const isStart = new Uint8Array(total + 1);
  isStart[0] = 1;
  for (const [s, i] of withSlots(insns)) {
    const c = op.cls(i.code);
    const t = jumpTarget(i, s);
    if (t !== null) isStart[t] = 1;
    if (i.code === op.LD_IMM64 && i.src === op.BPF_PSEUDO_FUNC) isStart[s + 1 + i.imm] = 1;
    if (c === op.BPF_JMP || c === op.BPF_JMP32) isStart[s + slots(i)] = 1;
  }
  const sync = Array.from({ length: 11 }, (_, r) => `L[${r}]=l${r};H[${r}]=h${r};`).join('');
  const reload = Array.from({ length: 11 }, (_, r) => `l${r}=L[${r}];h${r}=H[${r}];`).join('');
  const out: string[] = [];
  const emit = (s: string) => out.push(s);
  const exitCode = `if(frame===0){${sync}return left;}frame--;b=frame*10;l6=saved[b];h6=saved[b+1];l7=saved[b+2];h7=saved[b+3];l8=saved[b+4];h8=saved[b+5];l9=saved[b+6];h9=saved[b+7];l10=saved[b+8];h10=saved[b+9];sdv=sdvs[frame];pc=retPc[frame];continue;`;

  // The program cut into basic blocks (slot and instruction of each member).
  const blockList: { start: number; members: [number, Insn][] }[] = [];
  for (const [s, i] of withSlots(insns)) {
    const open = blockList[blockList.length - 1];
    if (isStart[s] || open === undefined) blockList.push({ start: s, members: [[s, i]] });
    else open.members.push([s, i]);
  }
  // The slots of each block, for exact budget errors.
  const blocks = blockList.map((b) => b.members.map(([s]) => s));

  // A probe load (`probeInto`: the destination's halves) from no region reads 0: the access code that follows
  // is then the else branch, which the caller closes.
  const memCheck = (slot: number, base: number, off: number, len: number, write: boolean, probeInto?: [string, string]) =>
    `Rg=regions[${Hr(base)}];e=(${R(base)}>>>0)+${off};` +
    (probeInto ? `if(Rg===undefined){${probeInto[0]}=0;${probeInto[1]}=0;}else{` : '') +
    `if(${probeInto ? '' : 'Rg===undefined||'}e<0||e+${len}>Rg.bytes.byteLength${write ? '||!Rg.writable' : ''}){${sync}throw vm.memFault(${slot},'${write ? 'write' : 'read'}',${base},${off},${len});}`;

  for (const [b, { start, members }] of blockList.entries()) {
    const count = members.length;
    emit(`case ${start}:if((left-=${count})<0){${sync}throw exhausted(${b},left+${count});}`);
    for (const [s, i] of members) emit(insnCode(i, s));
  }
  // Falling off the end.
  emit(`default:${sync}throw vm.fault(${total - 1},'execution ran past the last instruction');`);

  function insnCode(i: Insn, s: number): string {
    const { code, dst: d, src: x } = i;
    const imm = i.imm;
    const off = i.off;
    const c = op.cls(code);
    const o = op.aluOp(code);
    const isX = op.srcBit(code) === op.BPF_X;
    const l = R(d);
    const h = Hr(d);
    // Constants in parentheses: "l0-(-5)", never "l0--5".
    const bl = isX ? R(x) : `(${imm})`;
    const bh = isX ? Hr(x) : `(${imm >> 31})`;
    const viaArith = (fn: string, zeroCheck?: 'div' | 'mod') => {
      const call = `A.${fn}(${l},${h},${bl},${bh});${l}=A.RES_LO;${h}=A.RES_HI;`;
      if (!zeroCheck) return call;
      const zero = isX ? `(${R(x)}===0&&${Hr(x)}===0)` : `${imm === 0}`;
      return zeroCheck === 'div' ? `if(${zero}){${l}=0;${h}=0;}else{${call}}` : `if(!${zero}){${call}}`;
    };
    const jump = (target: number) => `{pc=${target};continue;}`;
    if (c === op.BPF_ALU64) {
      switch (o) {
        case op.BPF_ADD:
          return `t=(${l}+${bl})|0;${h}=(${h}+${bh}+((t>>>0)<(${l}>>>0)?1:0))|0;${l}=t;`;
        case op.BPF_SUB:
          return `t=${l};u=${bl};${l}=(t-u)|0;${h}=(${h}-${bh}-((t>>>0)<(u>>>0)?1:0))|0;`;
        case op.BPF_MUL:
          return viaArith('mul64');
        case op.BPF_DIV:
          return viaArith(off === 1 ? 'sdiv64' : 'udiv64', 'div');
        case op.BPF_MOD:
          return viaArith(off === 1 ? 'smod64' : 'umod64', 'mod');
        case op.BPF_OR:
          return `${l}|=${bl};${h}|=${bh};`;
        case op.BPF_AND:
          return `${l}&=${bl};${h}&=${bh};`;
        case op.BPF_XOR:
          return `${l}^=${bl};${h}^=${bh};`;
        case op.BPF_MOV:
          if (isX && off === 8) return `${l}=(${R(x)}<<24)>>24;${h}=${l}>>31;`;
          if (isX && off === 16) return `${l}=(${R(x)}<<16)>>16;${h}=${l}>>31;`;
          if (isX && off === 32) return `${l}=${R(x)};${h}=${l}>>31;`;
          return `${l}=${bl};${h}=${bh};`;
        case op.BPF_NEG:
          return `t=${l};${l}=(-t)|0;${h}=(~${h}+(t===0?1:0))|0;`;
        case op.BPF_LSH:
        case op.BPF_RSH:
        case op.BPF_ARSH: {
          if (isX) return viaArith(o === op.BPF_LSH ? 'lsh64' : o === op.BPF_RSH ? 'rsh64' : 'arsh64');
          const k = imm & 63;
          if (k === 0) return '';
          if (o === op.BPF_LSH) return k < 32 ? `${h}=(${h}<<${k})|(${l}>>>${32 - k});${l}=${l}<<${k};` : `${h}=${l}<<${k - 32};${l}=0;`;
          if (o === op.BPF_RSH) return k < 32 ? `${l}=(${l}>>>${k})|(${h}<<${32 - k});${h}=(${h}>>>${k})|0;` : `${l}=(${h}>>>${k - 32})|0;${h}=0;`;
          return k < 32 ? `${l}=(${l}>>>${k})|(${h}<<${32 - k});${h}=${h}>>${k};` : `${l}=${h}>>${k - 32};${h}=${h}>>31;`;
        }
        case op.BPF_END:
          if (imm === 16) return `${l}=A.bswap16(${l});${h}=0;`;
          if (imm === 32) return `${l}=A.bswap32(${l});${h}=0;`;
          return `t=${l};${l}=A.bswap32(${h});${h}=A.bswap32(t);`;
      }
    }
    if (c === op.BPF_ALU) {
      const b = bl;
      switch (o) {
        case op.BPF_ADD:
          return `${l}=(${l}+${b})|0;${h}=0;`;
        case op.BPF_SUB:
          return `${l}=(${l}-${b})|0;${h}=0;`;
        case op.BPF_MUL:
          return `${l}=Math.imul(${l},${b});${h}=0;`;
        case op.BPF_DIV:
          if (off === 1) return `u=${b};${l}=u===0?0:u===-1?(-${l})|0:(${l}/u)|0;${h}=0;`;
          return `u=${b}>>>0;${l}=u===0?0:Math.floor((${l}>>>0)/u)|0;${h}=0;`;
        case op.BPF_MOD:
          if (off === 1) return `u=${b};if(u===-1)${l}=0;else if(u!==0)${l}=(${l}%u)|0;${h}=0;`;
          return `u=${b}>>>0;if(u!==0)${l}=((${l}>>>0)%u)|0;${h}=0;`;
        case op.BPF_OR:
          return `${l}|=${b};${h}=0;`;
        case op.BPF_AND:
          return `${l}&=${b};${h}=0;`;
        case op.BPF_XOR:
          return `${l}^=${b};${h}=0;`;
        case op.BPF_LSH:
          return `${l}=${l}<<${b};${h}=0;`;
        case op.BPF_RSH:
          return `${l}=(${l}>>>${b})|0;${h}=0;`;
        case op.BPF_ARSH:
          return `${l}=${l}>>${b};${h}=0;`;
        case op.BPF_MOV:
          if (isX && off === 8) return `${l}=(${R(x)}<<24)>>24;${h}=0;`;
          if (isX && off === 16) return `${l}=(${R(x)}<<16)>>16;${h}=0;`;
          return `${l}=${b};${h}=0;`;
        case op.BPF_NEG:
          return `${l}=(-${l})|0;${h}=0;`;
        case op.BPF_END: {
          const swap = (isX ? op.BPF_TO_BE : op.BPF_TO_LE) === op.BPF_TO_BE ? le : !le;
          if (imm === 16) return swap ? `${l}=A.bswap16(${l});${h}=0;` : `${l}&=0xffff;${h}=0;`;
          if (imm === 32) return swap ? `${l}=A.bswap32(${l});${h}=0;` : `${h}=0;`;
          return swap ? `t=${l};${l}=A.bswap32(${h});${h}=A.bswap32(t);` : '';
        }
      }
    }
    if (c === op.BPF_JMP || c === op.BPF_JMP32) {
      const t = jumpTarget(i, s);
      if (o === op.BPF_JA) return jump(t!);
      if (o === op.BPF_JCOND) return `if(--mayGoto<=0){mayGoto=${8 * 1024 * 1024};${jump(t!)}}`;
      if (o === op.BPF_EXIT) return exitCode;
      if (o === op.BPF_CALL) {
        const enter = (target: string) =>
          `if(frame+1>=${op.MAX_CALL_FRAMES}){${sync}throw vm.fault(${s},'call depth exceeds ${op.MAX_CALL_FRAMES} frames','EMU_LIMIT');}` +
          `retPc[frame]=${s + 1};b=frame*10;saved[b]=l6;saved[b+1]=h6;saved[b+2]=l7;saved[b+3]=h7;saved[b+4]=l8;saved[b+5]=h8;saved[b+6]=l9;saved[b+7]=h9;saved[b+8]=l10;saved[b+9]=h10;` +
          `frame++;stacks[frame].fill(0);sdv=sdvs[frame];l10=${op.MAX_BPF_STACK};h10=${vm.stackBase}+frame;pc=${target};continue;`;
        if (isX) {
          return (
            `if(${h}===${FUNC_ADDR_ID}&&${l}>=0&&${l}<${total}&&isFunc[${l}]===1){${enter(l)}}` +
            `if(${h}!==0){${sync}throw vm.fault(${s},'callx target 0x'+A.pairToBig(${l},${h}).toString(16)+' is not a function address');}` +
            `${sync}vm.leftAtCall=left;helper(${s},${l});l0=L[0];h0=H[0];`
          );
        }
        if (x === op.BPF_PSEUDO_CALL) return enter(`${t}`);
        return `${sync}vm.leftAtCall=left;call(${s});l0=L[0];h0=H[0];`;
      }
      const cmp = jumpCond(o, c === op.BPF_JMP32, l, h, bl, bh, isX, imm);
      return `if(${cmp})${jump(t!)}`;
    }
    if (c === op.BPF_LD) {
      if (code === op.LD_IMM64) return `${l}=(${vm.imm[s]});${h}=(${vm.imm2[s]});`;
      // LD_ABS/LD_IND: r0 from the socket buffer, or the function returns 0 (the exit below).
      return `${sync}if(vm.legacyLoad(${s})){l0=L[0];h0=H[0];}else{l0=0;h0=0;${exitCode}}`;
    }
    // r10 is read-only, so an access through it is to the current frame's
    // stack at an offset known now: no lookup, and the bounds check is done here.
    const stackAccess = (base: number, len: number): string | null => {
      if (base !== 10) return null;
      const at = op.MAX_BPF_STACK + off;
      if (at < 0 || at + len > op.MAX_BPF_STACK) return null; // the generic path reports the fault
      return `e=${at};Rg=sdv;`;
    };
    if (c === op.BPF_LDX) {
      const sz = op.size(code);
      const len = op.sizeBytes(sz);
      const sx = op.mode(code) === op.BPF_MEMSX;
      const direct = stackAccess(x, len);
      const probe = direct === null && vm.opts.probeMem === true;
      const chk = direct ?? memCheck(s, x, off, len, false, probe ? [l, h] : undefined);
      const close = probe ? '}' : '';
      const stack = chk.endsWith('Rg=sdv;');
      const dv = stack ? 'sdv' : 'Rg.dv';
      // Contexts (xdp_md, __sk_buff) load through their hooks.
      // A plain field's value is split here; the registers are written back only if the hook fails.
      const hook = stack
        ? ''
        : sx
          ? `if(Rg.hooks!==undefined){${sync}vm.hookLoad(${s},Rg,e,${len},${d},true);${l}=L[${d}];${h}=H[${d}];}else `
          : `if(Rg.hooks!==undefined){try{hv=Rg.hooks.load(e,${len});}catch(err){${sync}throw vm.hookError(${s},err);}A.fromValue(hv);${l}=A.RES_LO;${h}=A.RES_HI;}else `;
      if (len === 8) return `${chk}${hook}{${le ? `${l}=${dv}.getInt32(e,true);${h}=${dv}.getInt32(e+4,true);` : `${h}=${dv}.getInt32(e,false);${l}=${dv}.getInt32(e+4,false);`}}${close}`;
      const get = len === 4 ? `getInt32(e,${le})` : len === 2 ? (sx ? `getInt16(e,${le})` : `getUint16(e,${le})`) : sx ? 'getInt8(e)' : 'getUint8(e)';
      return `${chk}${hook}{${l}=${dv}.${get};${h}=${sx ? `${l}>>31` : '0'};}${close}`;
    }
    if (c === op.BPF_ST || (c === op.BPF_STX && op.mode(code) === op.BPF_MEM)) {
      const len = op.sizeBytes(op.size(code));
      const vl = c === op.BPF_STX ? R(x) : `(${imm})`;
      const vh = c === op.BPF_STX ? Hr(x) : `(${imm >> 31})`;
      const chk = stackAccess(d, len) ?? memCheck(s, d, off, len, true);
      const stack = chk.endsWith('Rg=sdv;');
      const dv = stack ? 'sdv' : 'Rg.dv';
      const hook = stack ? '' : `if(Rg.hooks!==undefined){${sync}vm.hookStore(${s},Rg,e,${len},${vl},${vh});}else `;
      if (len === 8) return `${chk}${hook}{${dv}.setInt32(e,${le ? vl : vh},${le});${dv}.setInt32(e+4,${le ? vh : vl},${le});}`;
      const set = len === 4 ? `setInt32(e,${vl},${le})` : len === 2 ? `setInt16(e,${vl},${le})` : `setInt8(e,${vl})`;
      return `${chk}${hook}{${dv}.${set};}`;
    }
    if (c === op.BPF_STX) return `${sync}vm.atomic(${s});${reload}`;
    return `${sync}throw vm.fault(${s},'opcode 0x${code.toString(16)} is not emulated');`;
  }

  const isFunc = new Uint8Array(total);
  for (const [s, i] of withSlots(insns)) {
    if (i.code === op.LD_IMM64 && i.src === op.BPF_PSEUDO_FUNC) isFunc[s + 1 + i.imm] = 1;
  }

  const body = [
    '"use strict";',
    'const L=vm.lo,H=vm.hi,regions=vm.memory.regions,stacks=vm.stacks,sdvs=stacks.map((x)=>new DataView(x.buffer,x.byteOffset,x.byteLength));',
    `const retPc=new Int32Array(${op.MAX_CALL_FRAMES}),saved=new Int32Array(${op.MAX_CALL_FRAMES * 10});`,
    'return function run(budget,entry){',
    'let sdv=sdvs[0];',
    Array.from({ length: 11 }, (_, r) => `let l${r}=L[${r}],h${r}=H[${r}];`).join(''),
    `let left=budget,pc=entry|0,frame=0,mayGoto=${8 * 1024 * 1024},t=0,u=0,b=0,e=0,Rg,hv;`,
    'const exhausted=(blk,had)=>vm.fault(blocks[blk][had],`instruction budget of ${budget} exhausted (an endless loop? raise it with the budget option)`,"EMU_LIMIT");',
    'for(;;){switch(pc){',
    ...out,
    '}}};',
  ].join('\n');
  const call = (slot: number) => vm.callSlot(slot);
  const helper = (slot: number, id: number) => vm.callHelperId(slot, id);
  const factory = new Function('vm', 'A', 'blocks', 'isFunc', 'call', 'helper', body) as (...a: unknown[]) => CompiledRun;
  return factory(vm, A, blocks, isFunc, call, helper);
}

function jumpCond(o: number, is32: boolean, l: string, h: string, bl: string, bh: string, isX: boolean, imm: number): string {
  if (is32) {
    const b = bl;
    switch (o) {
      case op.BPF_JEQ:
        return `${l}===${b}`;
      case op.BPF_JNE:
        return `${l}!==${b}`;
      case op.BPF_JSET:
        return `(${l}&${b})!==0`;
      case op.BPF_JGT:
        return `(${l}>>>0)>(${b}>>>0)`;
      case op.BPF_JGE:
        return `(${l}>>>0)>=(${b}>>>0)`;
      case op.BPF_JLT:
        return `(${l}>>>0)<(${b}>>>0)`;
      case op.BPF_JLE:
        return `(${l}>>>0)<=(${b}>>>0)`;
      case op.BPF_JSGT:
        return `${l}>${b}`;
      case op.BPF_JSGE:
        return `${l}>=${b}`;
      case op.BPF_JSLT:
        return `${l}<${b}`;
      case op.BPF_JSLE:
        return `${l}<=${b}`;
    }
  }
  switch (o) {
    case op.BPF_JEQ:
      return `${l}===${bl}&&${h}===${bh}`;
    case op.BPF_JNE:
      return `${l}!==${bl}||${h}!==${bh}`;
    case op.BPF_JSET:
      return `(${l}&${bl})!==0||(${h}&${bh})!==0`;
  }
  // Ordered compares: the high words decide unless equal, then the low words unsigned.
  const lowU = (rel: string) => `(${l}>>>0)${rel}(${bl}>>>0)`;
  const signed = o === op.BPF_JSGT || o === op.BPF_JSGE || o === op.BPF_JSLT || o === op.BPF_JSLE;
  const ha = signed ? h : `(${h}>>>0)`;
  const hb = signed ? bh : isX ? `(${bh}>>>0)` : `${(imm >> 31) >>> 0}`;
  const rel = o === op.BPF_JGT || o === op.BPF_JSGT ? '>' : o === op.BPF_JGE || o === op.BPF_JSGE ? '>=' : o === op.BPF_JLT || o === op.BPF_JSLT ? '<' : '<=';
  const strict = rel[0];
  return `(${ha}${strict}${hb}||(${h}===${bh}&&${lowU(rel)}))`;
}
