// `bpf-ts __complete WORDS…`: the candidates the shell completion script
// asks for when a value depends on the object on the command line (program
// names for --program, map names for --max-entries MAP=, global variables
// for --set NAME=), as cobra's __complete does. WORDS are the command line
// after `bpf-ts`, the last one the word being completed. It reads only the
// named file's section table and symbols (no BTF, no relocations, no
// koffi), and never fails loudly: anything it cannot read gives no
// candidates.

import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { homedir } from 'node:os';
import { readElf } from '../object/elf.js';
import { isLegacyMapSection } from '../object/maps-legacy.js';
import { isDataSection } from '../object/maps-data.js';
import { programNames } from '../object/programs.js';
import { readSymbols, STT_OBJECT } from '../object/symbols.js';
import { SUBCOMMANDS } from './completion.js';
import { optionHelp } from './option-help.js';

/** Options whose value is a name from the object, and what it is. */
const FROM_OBJECT: Record<string, 'program' | 'map=' | 'global='> = {
  program: 'program',
  'sk-msg-program': 'program',
  'max-entries': 'map=',
  set: 'global=',
};

/** Objects larger than this are not read for completion (it must stay instant). */
const MAX_BYTES = 64 * 1024 * 1024;

export interface ObjectNames {
  programs: string[];
  maps: string[];
  globals: string[];
}

/** Program, map and global variable names of the object at `path`; null when it is not a readable BPF object. */
export function objectNames(path: string): ObjectNames | null {
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO named on the command line must not hang the shell.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > MAX_BYTES) return null;
    const bytes = new Uint8Array(st.size);
    let got = 0;
    while (got < bytes.length) {
      const n = readSync(fd, bytes, got, bytes.length - got, got);
      if (n === 0) break;
      got += n;
    }
    const elf = readElf(bytes.subarray(0, got), path);
    const symbols = readSymbols(elf);
    const inSection = (pred: (name: string, index: number) => boolean) => symbols.filter((s) => s.name && !s.name.startsWith('.') && pred(elf.sections[s.section]?.name ?? '', s.section));
    const section = (i: number) => elf.sections[i];
    const maps = inSection((name, i) => name === '.maps' || (section(i) !== undefined && isLegacyMapSection(section(i)!))).map((s) => s.name);
    const globals = inSection((_n, i) => section(i) !== undefined && isDataSection(section(i)!))
      .filter((s) => s.type === STT_OBJECT)
      .map((s) => s.name);
    return { programs: programNames(elf, symbols), maps: unique(maps), globals: unique(globals) };
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

const unique = (xs: string[]) => [...new Set(xs)];

/** The object file named on the command line: the first positional (after a sub-command word), when it is a file. */
function objectArgument(cmd: string, words: readonly string[]): string | undefined {
  const positionals: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w === '--') break;
    if (w.startsWith('-')) {
      // "--opt VALUE": skip the value of an option that takes one.
      if (w.startsWith('--') && !w.includes('=') && optionHelp(cmd, w.slice(2))?.arg) i++;
      continue;
    }
    positionals.push(w);
  }
  const obj = positionals[SUBCOMMANDS[cmd] ? 1 : 0];
  return obj?.startsWith('~/') ? homedir() + obj.slice(1) : obj;
}

/**
 * Candidates for the last of `words` (the command line after `bpf-ts`):
 * names from the object for the options in FROM_OBJECT, else nothing.
 */
export function completeWords(words: readonly string[]): string[] {
  // bash splits "--opt=value" at '=' (COMP_WORDBREAKS): those '=' words carry nothing here.
  const w = words.filter((x) => x !== '=');
  const [cmd, ...rest] = w;
  const cur = rest.pop() ?? '';
  const prev = rest.at(-1) ?? '';
  const kind = prev.startsWith('--') ? FROM_OBJECT[prev.slice(2)] : undefined;
  if (!cmd || !kind || cur.includes('=')) return [];
  if (!optionHelp(cmd, prev.slice(2))) return [];
  const obj = objectArgument(cmd, rest);
  const names = obj === undefined ? null : objectNames(obj);
  if (!names) return [];
  const list = kind === 'program' ? names.programs : kind === 'map=' ? names.maps.map((m) => `${m}=`) : names.globals.map((g) => `${g}=`);
  return list.filter((x) => x.startsWith(cur));
}
