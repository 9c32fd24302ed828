// CO-RE "flavours": a local type named `task_struct___v2` describes the
// kernel's `task_struct`; everything from the last `___` on is ignored when
// names are compared, so one program can carry several layouts of a type.

/** X___Y with X and Y not underscores: the flavour separator libbpf looks for. */
function isFlavorSep(s: string, i: number): boolean {
  return s[i] !== '_' && s[i + 1] === '_' && s[i + 2] === '_' && s[i + 3] === '_' && s[i + 4] !== '_';
}

/** Length of the name without its flavour suffix (the last `___…`). */
export function essentialNameLength(name: string): number {
  for (let i = name.length - 5; i >= 0; i--) if (isFlavorSep(name, i)) return i + 1;
  return name.length;
}

/** `task_struct___v2` -> `task_struct`; names without a flavour are unchanged. */
export function essentialName(name: string): string {
  return name.slice(0, essentialNameLength(name));
}

/** Names equal up to their flavours; an anonymous side matches anything (libbpf's bpf_core_names_match). */
export function coreNamesMatch(local: string, target: string): boolean {
  if (local === '' || target === '') return true;
  return essentialName(local) === essentialName(target);
}
