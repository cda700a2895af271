// The reference model: a volume is the admission-ordered replay of its events. A snapshot with
// seq S is the replay of the events with seq < S. Nothing else: no chunks, no COW, no locks.
export interface ModelEvent {
  seq: number;
  offset: number;
  /** null = the whole content is replaced by `image` (a rollback). */
  data: Uint8Array | null;
  image?: Uint8Array;
}

export class VolumeModel {
  events: ModelEvent[] = [];
  snapshots: { name: string; seq: number }[] = [];

  constructor(public size: number) {}

  view(bound: number): Buffer {
    const out = Buffer.alloc(this.size);
    const evs = this.events.filter((e) => e.seq < bound).sort((a, b) => a.seq - b.seq);
    for (const e of evs) {
      if (e.data)
        out.set(e.data.subarray(0, Math.max(0, Math.min(e.data.length, this.size - e.offset))), e.offset);
      else if (e.image) {
        out.fill(0);
        out.set(e.image.subarray(0, Math.min(this.size, e.image.length)));
      }
    }
    return out;
  }

  live(): Buffer {
    return this.view(Number.POSITIVE_INFINITY);
  }

  snapshotView(name: string): Buffer {
    const s = this.snapshots.find((x) => x.name === name);
    if (!s) throw new Error(`model: no snapshot ${name}`);
    return this.view(s.seq);
  }
}
