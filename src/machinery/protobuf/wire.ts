// The protobuf wire format, read and written in place: the one reader and writer every codec of
// the code base uses (the etcd Range/Txn codec on storage's hot read path, the Kubernetes
// object codec of kube.ts). The reader allocates nothing: it moves a cursor over a Buffer, and
// callers take strings or sub-ranges from the bytes it points at.

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_BYTES = 2;
export const WIRE_FIXED32 = 5;

/** A cursor over a protobuf message; every read stays before `end`. */
export class ProtoReader {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  /** An unsigned varint as a number: exact up to 2^53, which revisions, counts and lengths never exceed. */
  varint(end: number): number {
    const buf = this.buf;
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= end) throw new Error('truncated varint');
      const b = buf[this.pos++]!;
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 0x80;
    }
    throw new Error('invalid varint');
  }

  /** An int32/int64 varint: two's complement, so negative values take ten bytes. */
  signedVarint(end: number): number {
    const start = this.pos;
    const v = this.varint(end);
    if (v <= Number.MAX_SAFE_INTEGER) return v;
    let big = 0n;
    for (let i = start, shift = 0n; i < this.pos; i++, shift += 7n) big |= BigInt(this.buf[i]! & 0x7f) << shift;
    return Number(BigInt.asIntN(64, big));
  }

  /** Moves past a length-delimited field's bytes and returns where they start (they end at `pos`). */
  bytes(end: number): number {
    const len = this.varint(end);
    const start = this.pos;
    if (len > end - start) throw new Error('truncated field');
    this.pos = start + len;
    return start;
  }

  /** A length-delimited field as UTF-8 text. */
  string(end: number): string {
    const start = this.bytes(end);
    return this.buf.toString('utf8', start, this.pos);
  }

  double(end: number): number {
    if (this.pos + 8 > end) throw new Error('truncated field');
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  /**
   * Enters an embedded message (a length-delimited field at pos): leaves pos at its start and
   * returns its end, where a reader of that message (which stays within its end) leaves pos.
   */
  enter(end: number): number {
    const start = this.bytes(end);
    const fieldEnd = this.pos;
    this.pos = start;
    return fieldEnd;
  }

  skip(wireType: number, end: number): void {
    if (wireType === WIRE_VARINT) this.varint(end);
    else if (wireType === WIRE_BYTES) this.bytes(end);
    else if (wireType === WIRE_FIXED64 || wireType === WIRE_FIXED32) {
      this.pos += wireType === WIRE_FIXED64 ? 8 : 4;
      if (this.pos > end) throw new Error('truncated field');
    } else throw new Error(`unsupported wire type ${wireType}`);
  }
}

/** Bytes a varint of the non-negative safe integer `v` takes. */
export function varintSize(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 0x80);
    n++;
  }
  return n;
}

/** Writes the non-negative safe integer `v` as a varint at `pos`; returns the position after it. */
export function writeVarint(buf: Buffer, pos: number, v: number): number {
  while (v >= 0x80) {
    buf[pos++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  buf[pos++] = v;
  return pos;
}

/** Size of a length-delimited field with a one-byte tag and `len` bytes (tag, length, bytes). */
export function fieldSize(len: number): number {
  return 1 + varintSize(len) + len;
}

/** A growing message writer, for codecs that do not know sizes in advance. */
export class ProtoWriter {
  private buf = Buffer.allocUnsafe(256);
  private pos = 0;

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  tag(field: number, wireType: number): void {
    this.uvarint(field * 8 + wireType);
  }

  uvarint(v: number): void {
    this.ensure(10);
    this.pos = writeVarint(this.buf, this.pos, v);
  }

  /** An int32/int64 value: negative ones as ten-byte two's complement, as Go writes them. */
  svarint(v: number): void {
    if (v >= 0) return this.uvarint(v);
    let big = BigInt.asUintN(64, BigInt(Math.trunc(v)));
    this.ensure(10);
    while (big >= 0x80n) {
      this.buf[this.pos++] = Number(big & 0x7fn) | 0x80;
      big >>= 7n;
    }
    this.buf[this.pos++] = Number(big);
  }

  double(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  bytes(field: number, data: Buffer): void {
    this.tag(field, WIRE_BYTES);
    this.uvarint(data.length);
    this.ensure(data.length);
    data.copy(this.buf, this.pos);
    this.pos += data.length;
  }

  string(field: number, s: string): void {
    this.bytes(field, Buffer.from(s, 'utf8'));
  }

  /** An embedded message written by `write` into a writer of its own. */
  message(field: number, write: (w: ProtoWriter) => void): void {
    const inner = new ProtoWriter();
    write(inner);
    this.bytes(field, inner.finish());
  }

  raw(data: Buffer): void {
    this.ensure(data.length);
    data.copy(this.buf, this.pos);
    this.pos += data.length;
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}
