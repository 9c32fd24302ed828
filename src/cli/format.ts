// Plain-text tables for human output.

export function table(headers: string[], rows: (string | number | null)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (c === null ? '-' : String(c))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i]?.length ?? 0)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ')).join('\n');
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** bpftool -j spelling of bytes: ["0x00", "0x2a", …]. */
export function hexList(bytes: Uint8Array): string[] {
  return Array.from(bytes, (b) => '0x' + b.toString(16).padStart(2, '0'));
}
