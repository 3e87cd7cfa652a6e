// The read path's hand-written protobuf codec: RangeRequest and the read-only TxnRequest of
// batched gets, encoded from RangeArgs; RangeResponse and TxnResponse decoded into KeyValues.
//
// Reads are the hot path. A Range goes out as a pre-encoded RangeRequest and its RangeResponse
// is decoded straight into the store's KeyValues (keys without the namespace, values as
// strings, revisions as numbers). etcd3's generic codec (proto-loader: protobuf.js message
// objects with a Buffer per bytes field and a Long per int64, then a second object tree with the
// int64s as strings) cost more CPU than the rest of a list of many objects. Batched gets (see
// EtcdStore.get) go out as a read-only Txn of Ranges, decoded the same way.

import type { KeyValue } from '../interface.js';
import { fieldSize, ProtoReader, varintSize, writeVarint } from '../../machinery/protobuf/wire.js';

/** A RangeRequest (etcdserverpb, rpc.proto); int64s are non-negative safe integers. */
export interface RangeArgs {
  key: Buffer; // 1
  rangeEnd?: Buffer; // 2
  limit?: number; // 3
  revision?: number; // 4
  countOnly?: boolean; // 9
}

/** A decoded RangeResponse: header.revision, kvs, more, count. */
export interface RangeResult {
  revision: number;
  kvs: KeyValue[];
  more: boolean;
  count: number;
}

/** A decoded TxnResponse whose responses are all Ranges: header.revision and the ranges. */
export interface RangesResult {
  revision: number;
  ranges: RangeResult[];
}

export const RANGE_PATH = '/etcdserverpb.KV/Range';
export const TXN_PATH = '/etcdserverpb.KV/Txn';

function rangeRequestSize(r: RangeArgs): number {
  let size = fieldSize(r.key.length);
  if (r.rangeEnd) size += fieldSize(r.rangeEnd.length);
  if (r.limit) size += 1 + varintSize(r.limit);
  if (r.revision) size += 1 + varintSize(r.revision);
  if (r.countOnly) size += 2;
  return size;
}

function writeRangeRequest(buf: Buffer, pos: number, r: RangeArgs): number {
  buf[pos++] = 0x0a; // 1: key
  pos = writeVarint(buf, pos, r.key.length);
  pos += r.key.copy(buf, pos);
  if (r.rangeEnd) {
    buf[pos++] = 0x12; // 2: range_end
    pos = writeVarint(buf, pos, r.rangeEnd.length);
    pos += r.rangeEnd.copy(buf, pos);
  }
  if (r.limit) {
    buf[pos++] = 0x18; // 3: limit
    pos = writeVarint(buf, pos, r.limit);
  }
  if (r.revision) {
    buf[pos++] = 0x20; // 4: revision
    pos = writeVarint(buf, pos, r.revision);
  }
  if (r.countOnly) {
    buf[pos++] = 0x48; // 9: count_only
    buf[pos++] = 1;
  }
  return pos;
}

export function encodeRangeRequest(r: RangeArgs): Buffer {
  const buf = Buffer.allocUnsafe(rangeRequestSize(r));
  writeRangeRequest(buf, 0, r);
  return buf;
}

/** TxnRequest { success: [RequestOp { request_range }...] }: no compares, only reads. */
export function encodeRangesTxn(ranges: RangeArgs[]): Buffer {
  const sizes = ranges.map(rangeRequestSize);
  let size = 0;
  for (const n of sizes) size += fieldSize(fieldSize(n));
  const buf = Buffer.allocUnsafe(size);
  let pos = 0;
  for (let i = 0; i < ranges.length; i++) {
    const n = sizes[i]!;
    buf[pos++] = 0x12; // TxnRequest 2: success
    pos = writeVarint(buf, pos, fieldSize(n));
    buf[pos++] = 0x0a; // RequestOp 1: request_range
    pos = writeVarint(buf, pos, n);
    pos = writeRangeRequest(buf, pos, ranges[i]!);
  }
  return buf;
}

/** mvccpb.KeyValue (kv.proto) in [r.pos, end): key 1, create_revision 2, mod_revision 3, value 5. */
function readKeyValue(r: ProtoReader, end: number, nsLength: number): KeyValue {
  const buf = r.buf;
  let key = '';
  let value = '';
  let createRevision = 0;
  let modRevision = 0;
  while (r.pos < end) {
    const tag = r.varint(end);
    if (tag === 0x0a) {
      const start = r.bytes(end);
      key = buf.toString('utf8', Math.min(start + nsLength, r.pos), r.pos);
    } else if (tag === 0x10) {
      createRevision = r.varint(end);
    } else if (tag === 0x18) {
      modRevision = r.varint(end);
    } else if (tag === 0x2a) {
      const start = r.bytes(end);
      value = buf.toString('utf8', start, r.pos);
    } else {
      r.skip(tag & 7, end);
    }
  }
  return { key, value, createRevision, modRevision };
}

/** ResponseHeader in [r.pos, end): its revision (3). */
function readHeaderRevision(r: ProtoReader, end: number): number {
  let revision = 0;
  while (r.pos < end) {
    const tag = r.varint(end);
    if (tag === 0x18) revision = r.varint(end);
    else r.skip(tag & 7, end);
  }
  return revision;
}

/** RangeResponse in [r.pos, end): header 1, kvs 2, more 3, count 4. */
function readRangeResponse(r: ProtoReader, end: number, nsLength: number): RangeResult {
  const res: RangeResult = { revision: 0, kvs: [], more: false, count: 0 };
  while (r.pos < end) {
    const tag = r.varint(end);
    if (tag === 0x12) {
      const fieldEnd = r.enter(end);
      res.kvs.push(readKeyValue(r, fieldEnd, nsLength));
    } else if (tag === 0x0a) {
      const fieldEnd = r.enter(end);
      res.revision = readHeaderRevision(r, fieldEnd);
    } else if (tag === 0x18) {
      res.more = r.varint(end) !== 0;
    } else if (tag === 0x20) {
      res.count = r.varint(end);
    } else {
      r.skip(tag & 7, end);
    }
  }
  return res;
}

export function decodeRangeResponse(buf: Buffer, nsLength: number): RangeResult {
  return readRangeResponse(new ProtoReader(buf), buf.length, nsLength);
}

/** TxnResponse: header 1, responses 3 (ResponseOp: response_range 1); a response that is not a range is an error. */
export function decodeRangesTxnResponse(buf: Buffer, nsLength: number): RangesResult {
  const r = new ProtoReader(buf);
  const end = buf.length;
  const res: RangesResult = { revision: 0, ranges: [] };
  while (r.pos < end) {
    const tag = r.varint(end);
    if (tag === 0x1a) {
      const opEnd = r.enter(end);
      let range: RangeResult | null = null;
      while (r.pos < opEnd) {
        const t = r.varint(opEnd);
        if (t === 0x0a) {
          const fieldEnd = r.enter(opEnd);
          range = readRangeResponse(r, fieldEnd, nsLength);
        } else {
          r.skip(t & 7, opEnd);
        }
      }
      if (!range) throw new Error('txn response without a range response');
      res.ranges.push(range);
    } else if (tag === 0x0a) {
      const fieldEnd = r.enter(end);
      res.revision = readHeaderRevision(r, fieldEnd);
    } else {
      r.skip(tag & 7, end);
    }
  }
  return res;
}
