// Decoded values as JSON can carry them: bigints become numbers when exact,
// else decimal strings (JSON numbers past 2^53 lose digits in most readers).

export function toJsonValue(v: unknown): unknown {
  if (typeof v === 'bigint') return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  if (Array.isArray(v)) return v.map(toJsonValue);
  if (v instanceof Uint8Array) return Array.from(v);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = toJsonValue(x);
    return out;
  }
  return v;
}
