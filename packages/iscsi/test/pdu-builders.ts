// Hand-built initiator PDUs for the tests: bytes laid out field by field, independent of the
// serializer under test.
export function bhs(opcode: number, flags: number, fields: Record<number, number> = {}): Buffer {
  const b = Buffer.alloc(48);
  b[0] = opcode;
  b[1] = flags;
  for (const [offset, value] of Object.entries(fields)) b.writeUInt32BE(value >>> 0, Number(offset));
  return b;
}

/** BHS with lengths set, then the data segment padded to 4 bytes. */
export function frame(header: Buffer, data: Buffer = Buffer.alloc(0), ahs: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.from(header);
  h[4] = ahs.length / 4;
  h[5] = (data.length >> 16) & 0xff;
  h[6] = (data.length >> 8) & 0xff;
  h[7] = data.length & 0xff;
  const pad = (4 - (data.length % 4)) % 4;
  return Buffer.concat([h, ahs, data, Buffer.alloc(pad)]);
}

export function text(pairs: Record<string, string>): Buffer {
  return Buffer.from(
    Object.entries(pairs)
      .map(([k, v]) => `${k}=${v}\0`)
      .join(""),
  );
}

export function loginRequest(opts: {
  transit: boolean;
  csg: number;
  nsg: number;
  isid?: Buffer;
  tsih?: number;
  itt?: number;
  cmdSN?: number;
  versionMin?: number;
  data: Buffer;
}): Buffer {
  const flags = (opts.transit ? 0x80 : 0) | (opts.csg << 2) | (opts.transit ? opts.nsg : 0);
  const b = bhs(0x43, flags, { 16: opts.itt ?? 1, 24: opts.cmdSN ?? 0 });
  b[3] = opts.versionMin ?? 0;
  (opts.isid ?? Buffer.from([0x80, 0, 0, 0, 0, 1])).copy(b, 8);
  b.writeUInt16BE(opts.tsih ?? 0, 14);
  return frame(b, opts.data);
}
