// What a recovered pool may legally contain. Per 512-byte sector of a view with admission
// bound B (a snapshot's seq, or +inf for the live volume): let D be the newest write below B
// covering the sector that was acknowledged before a completed flush began. The sector must hold
// D's bytes, or the bytes of a later write below B (unflushed writes may or may not survive),
// or zeros when no write is durable. A sector holding data of a write at or above B means an
// origin overwrite became visible without its COW copy.
export interface WrittenRecord {
  id: number;
  seq: number;
  offset: number;
  data: Buffer;
}

export function checkView(
  got: Buffer,
  bound: number,
  writes: WrittenRecord[],
  durableIds: Set<number>,
  sector = 512,
  /** Content before the first of these writes (default zeros). */
  base?: Buffer,
): string | null {
  const relevant = writes.filter((w) => w.seq < bound).sort((a, b) => a.seq - b.seq);
  for (let off = 0; off < got.length; off += sector) {
    const cover = relevant.filter((w) => w.offset <= off && w.offset + w.data.length >= off + sector);
    let start = 0;
    for (let i = cover.length - 1; i >= 0; i--) {
      if (durableIds.has((cover[i] as WrittenRecord).id)) {
        start = i;
        break;
      }
    }
    const firstDurable = cover.findIndex((w) => durableIds.has(w.id));
    const actual = got.subarray(off, off + sector);
    const candidates: Buffer[] = [];
    if (firstDurable < 0) candidates.push(base ? base.subarray(off, off + sector) : Buffer.alloc(sector));
    for (let i = firstDurable < 0 ? 0 : start; i < cover.length; i++) {
      const w = cover[i] as WrittenRecord;
      candidates.push(w.data.subarray(off - w.offset, off - w.offset + sector));
    }
    if (!candidates.some((c) => c.equals(actual))) {
      const match = writes.find(
        (w) =>
          w.offset <= off &&
          w.offset + w.data.length >= off + sector &&
          w.data.subarray(off - w.offset, off - w.offset + sector).equals(actual),
      );
      const legal = cover.map((w) => `${w.id}@${w.seq}${durableIds.has(w.id) ? "D" : ""}`).join(",");
      const what = match
        ? `write ${match.id}@${match.seq}${durableIds.has(match.id) ? "D" : ""}${match.seq >= bound ? " (admitted after the bound)" : ""}`
        : actual.every((b) => b === 0)
          ? "zeros"
          : "unknown bytes";
      return `sector at ${off}: holds ${what}; legal: [${legal}] from ${start}`;
    }
  }
  return null;
}
