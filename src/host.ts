// Facts about the machine bpf-ts runs on that pure layers (btf/, object/)
// need as much as the kernel layer does: no syscalls here.

/** This host's byte order: bpf_attr, map values and events are in it. */
export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
