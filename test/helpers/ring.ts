// Records the test programs write to ring buffers start with a u64 sequence
// number (fixtures/ringbuf.o, events_seq.o; the hand-built rings of
// events-ring-walk): read it from the ring's words at a record's data offset.

/** The u64 sequence number of the record whose data starts at byte `o` of `words`. */
export const seqIn = (words: Uint32Array, o: number): number => words[(o >>> 2) + 1]! * 2 ** 32 + words[o >>> 2]!;
