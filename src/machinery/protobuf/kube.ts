// Kubernetes' protobuf serialization (`application/vnd.kubernetes.protobuf`) for the kinds in the
// generated descriptor (generated/descriptor.ts, derived from k8s.io/api's generated.proto), to
// and from the objects' JSON form, which is what the server stores and serves:
//
//   decodeKubeProtobuf(body)        → { apiVersion, kind, object }   (a request body)
//   encodeKubeProtobuf(object)      → Buffer                          (a response body)
//
// Envelope (k8s.io/apimachinery/pkg/runtime/serializer/protobuf): the 4 bytes "k8s\0", then a
// runtime.Unknown {typeMeta {apiVersion, kind}, raw, contentEncoding, contentType} whose `raw`
// is the object's message. The JSON mapping follows Go's encoding/json on the API types: inline
// (embedded) structs merge into their parent, zero scalars and empty lists/maps of omitempty
// fields are left out, bytes are base64; the types with their own JSON form are metav1.Time and
// MicroTime (RFC 3339 text), Duration (Go duration text), IntOrString, Quantity, FieldsV1 and
// RawExtension (embedded JSON), and the `+protobuf.nullable` list wrappers (plain arrays).

import { descriptor } from './generated/descriptor.js';
import {
  FIELD_INLINE,
  FIELD_OMITEMPTY,
  FIELD_POINTER,
  FIELD_REPEATED,
  type FieldDescriptor,
} from './descriptor-types.js';
import { ProtoReader, ProtoWriter, WIRE_BYTES, WIRE_FIXED64, WIRE_VARINT } from './wire.js';

export const PROTOBUF_CONTENT_TYPE = 'application/vnd.kubernetes.protobuf';
const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

const META = 'k8s.io.apimachinery.pkg.apis.meta.v1.';
const TIME = `${META}Time`;
const MICRO_TIME = `${META}MicroTime`;
const DURATION = `${META}Duration`;
const FIELDS_V1 = `${META}FieldsV1`;
const INT_OR_STRING = 'k8s.io.apimachinery.pkg.util.intstr.IntOrString';
const RAW_EXTENSION = 'k8s.io.apimachinery.pkg.runtime.RawExtension';

/** A malformed body or a kind without a protobuf form; callers answer 400. */
export class ProtobufError extends Error {}

type Obj = Record<string, unknown>;

interface Field {
  json: string;
  number: number;
  type: string;
  repeated: boolean;
  inline: boolean;
  omitempty: boolean;
  pointer: boolean;
  /** Key type of a map field. */
  mapKey?: string;
}

interface Message {
  name: string;
  fields: Field[];
  byNumber: Map<number, Field>;
  /** How the message's JSON form differs from an object of its fields. */
  special?: 'time' | 'microtime' | 'duration' | 'intorstring' | 'string' | 'list' | 'fieldsv1' | 'rawextension';
}

const messages = new Map<string, Message>();

function specialOf(name: string): Message['special'] {
  if (name === TIME) return 'time';
  if (name === MICRO_TIME) return 'microtime';
  if (name === DURATION) return 'duration';
  if (name === INT_OR_STRING) return 'intorstring';
  if (name === FIELDS_V1) return 'fieldsv1';
  if (name === RAW_EXTENSION) return 'rawextension';
  const notes = descriptor.annotations[name] ?? [];
  if (notes.includes('embed=string')) return 'string';
  if (notes.includes('nullable=true')) return 'list';
  return undefined;
}

function message(name: string): Message {
  let m = messages.get(name);
  if (m) return m;
  const raw: FieldDescriptor[] | undefined = descriptor.messages[name];
  if (!raw) throw new ProtobufError(`no protobuf message ${name}`);
  const fields = raw.map(([json, number, type, flags, mapKey]) => ({
    json,
    number,
    type,
    repeated: (flags & FIELD_REPEATED) !== 0,
    inline: (flags & FIELD_INLINE) !== 0,
    omitempty: (flags & FIELD_OMITEMPTY) !== 0,
    pointer: (flags & FIELD_POINTER) !== 0,
    ...(mapKey ? { mapKey } : {}),
  }));
  m = { name, fields, byNumber: new Map(fields.map((f) => [f.number, f])), special: specialOf(name) };
  messages.set(name, m);
  return m;
}

/** The message of a kind, e.g. `v1`, `ConfigMap` → k8s.io.api.core.v1.ConfigMap; undefined when it has none. */
export function protobufMessageOf(apiVersion: string, kind: string): string | undefined {
  return descriptor.kinds[`${apiVersion}/${kind}`];
}

// ---- time and duration -------------------------------------------------------------------------

function formatSeconds(seconds: number, nanos: number, fractionDigits: number): string {
  const ms = seconds * 1000;
  const iso = new Date(ms).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  const whole = iso.slice(0, 19);
  if (fractionDigits === 0) return `${whole}Z`;
  return `${whole}.${String(Math.floor(nanos / 1000)).padStart(6, '0')}Z`;
}

function parseTime(text: string): { seconds: number; nanos: number } {
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new ProtobufError(`invalid time ${JSON.stringify(text)}`);
  const fraction = /\.(\d+)/.exec(text)?.[1] ?? '';
  const nanos = fraction ? Number(fraction.slice(0, 9).padEnd(9, '0')) : 0;
  return { seconds: Math.floor(ms / 1000), nanos };
}

const durationUnits: [string, number][] = [
  ['h', 3600e9],
  ['m', 60e9],
  ['s', 1e9],
  ['ms', 1e6],
  ['us', 1e3],
  ['µs', 1e3],
  ['ns', 1],
];

/** Go's time.Duration String(): `1h2m3.5s`, `500ms`, `0s`. */
function formatDuration(nanos: number): string {
  if (nanos === 0) return '0s';
  const sign = nanos < 0 ? '-' : '';
  let n = Math.abs(nanos);
  if (n < 1e9) {
    const [unit, size] = n < 1e3 ? ['ns', 1] : n < 1e6 ? ['µs', 1e3] : ['ms', 1e6];
    return `${sign}${n / size}${unit}`;
  }
  const h = Math.floor(n / 3600e9);
  n -= h * 3600e9;
  const m = Math.floor(n / 60e9);
  n -= m * 60e9;
  const s = n / 1e9;
  return `${sign}${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${s}s`;
}

function parseDuration(text: string): number {
  const re = /(\d+(?:\.\d*)?|\.\d+)(h|ms|m|s|us|µs|ns)/g;
  const sign = text.startsWith('-') ? -1 : 1;
  const body = text.replace(/^[-+]/, '');
  let total = 0;
  let consumed = 0;
  for (const m of body.matchAll(re)) {
    total += Number(m[1]) * durationUnits.find(([u]) => u === m[2])![1];
    consumed += m[0].length;
  }
  if (consumed !== body.length || body === '') throw new ProtobufError(`invalid duration ${JSON.stringify(text)}`);
  return sign * Math.round(total);
}

// ---- decoding ----------------------------------------------------------------------------------

function readScalar(r: ProtoReader, type: string, wire: number, end: number): unknown {
  switch (type) {
    case 'string':
      return r.string(end);
    case 'bytes': {
      const start = r.bytes(end);
      return r.buf.toString('base64', start, r.pos);
    }
    case 'bool':
      return r.varint(end) !== 0;
    case 'int32':
    case 'int64':
      return r.signedVarint(end);
    case 'double':
      if (wire !== WIRE_FIXED64) throw new ProtobufError('double field with a wrong wire type');
      return r.double(end);
    default:
      throw new ProtobufError(`unsupported scalar type ${type}`);
  }
}

function isZero(v: unknown): boolean {
  return (
    v === '' ||
    v === 0 ||
    v === false ||
    v === null ||
    (Array.isArray(v) && v.length === 0) ||
    (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0)
  );
}

/** Reads a value of message `name` in [r.pos, end) into its JSON form. */
function decodeValue(r: ProtoReader, end: number, name: string): unknown {
  const m = message(name);
  const obj: Obj = {};
  /** Fields whose zero value Go's encoding/json leaves out. */
  const present = new Set<Field>();
  while (r.pos < end) {
    const tag = r.varint(end);
    const number = Math.floor(tag / 8);
    const wire = tag & 7;
    const f = m.byNumber.get(number);
    if (!f) {
      r.skip(wire, end);
      continue;
    }
    present.add(f);
    if (f.mapKey) {
      if (wire !== WIRE_BYTES) throw new ProtobufError(`${name}.${f.json}: a map entry must be length-delimited`);
      const entryEnd = r.enter(end);
      let key: unknown = f.mapKey === 'string' ? '' : 0;
      let value: unknown = f.type.includes('.') ? decodeEmpty(f.type) : zeroOf(f.type);
      while (r.pos < entryEnd) {
        const t = r.varint(entryEnd);
        if (t >> 3 === 1) key = readScalar(r, f.mapKey, t & 7, entryEnd);
        else if (t >> 3 === 2) value = readField(r, entryEnd, f.type, t & 7);
        else r.skip(t & 7, entryEnd);
      }
      const map = (obj[f.json] ??= {}) as Obj;
      map[String(key)] = value;
      continue;
    }
    if (f.repeated) {
      const list = (obj[f.json] ??= []) as unknown[];
      if (wire === WIRE_BYTES && !f.type.includes('.') && f.type !== 'string' && f.type !== 'bytes') {
        // A packed list of numbers or booleans.
        const listEnd = r.enter(end);
        while (r.pos < listEnd) list.push(readScalar(r, f.type, f.type === 'double' ? WIRE_FIXED64 : 0, listEnd));
      } else list.push(readField(r, end, f.type, wire));
      continue;
    }
    const value = readField(r, end, f.type, wire);
    if (f.inline && typeof value === 'object' && value !== null) Object.assign(obj, value);
    else obj[f.json] = value;
  }
  for (const f of present) {
    if (
      f.omitempty &&
      !f.pointer &&
      f.json in obj &&
      isZero(obj[f.json]) &&
      (f.repeated || f.mapKey || !f.type.includes('.'))
    )
      delete obj[f.json];
  }
  return special(m, obj);
}

function zeroOf(type: string): unknown {
  if (type === 'string') return '';
  if (type === 'bytes') return '';
  if (type === 'bool') return false;
  return 0;
}

function decodeEmpty(name: string): unknown {
  return special(message(name), {});
}

function readField(r: ProtoReader, end: number, type: string, wire: number): unknown {
  if (!type.includes('.')) return readScalar(r, type, wire, end);
  if (wire !== WIRE_BYTES) throw new ProtobufError(`message field ${type} with a wrong wire type`);
  const fieldEnd = r.enter(end);
  const value = decodeValue(r, fieldEnd, type);
  r.pos = fieldEnd;
  return value;
}

/** The JSON form of a message decoded as an object of its fields. */
function special(m: Message, obj: Obj): unknown {
  switch (m.special) {
    case 'time':
    case 'microtime': {
      const seconds = Number(obj['seconds'] ?? 0);
      const nanos = Number(obj['nanos'] ?? 0);
      if (seconds === 0 && nanos === 0) return null;
      return formatSeconds(seconds, nanos, m.special === 'time' ? 0 : 6);
    }
    case 'duration':
      return formatDuration(Number(obj['duration'] ?? 0));
    case 'intorstring':
      return Number(obj['type'] ?? 0) === 1 ? String(obj['strVal'] ?? '') : Number(obj['intVal'] ?? 0);
    case 'string':
      return String(obj[m.fields[0]!.json] ?? '');
    case 'list':
      return (obj[m.fields[0]!.json] as unknown[] | undefined) ?? [];
    case 'fieldsv1':
    case 'rawextension': {
      const raw = obj[m.fields[0]!.json];
      if (typeof raw !== 'string' || raw === '') return m.special === 'fieldsv1' ? {} : null;
      const text = Buffer.from(raw, 'base64').toString('utf8');
      try {
        return JSON.parse(text);
      } catch {
        throw new ProtobufError(`${m.name} does not hold JSON`);
      }
    }
    default:
      return obj;
  }
}

/** The type and object of a Kubernetes protobuf body. Throws ProtobufError. */
export function decodeKubeProtobuf(body: Buffer): { apiVersion: string; kind: string; object: Obj } {
  if (body.length < 4 || !body.subarray(0, 4).equals(MAGIC))
    throw new ProtobufError('provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]');
  const r = new ProtoReader(body);
  r.pos = 4;
  const end = body.length;
  let apiVersion = '';
  let kind = '';
  let raw: [number, number] = [0, 0];
  let contentEncoding = '';
  try {
    while (r.pos < end) {
      const tag = r.varint(end);
      if (tag === 0x0a) {
        const typeEnd = r.enter(end);
        while (r.pos < typeEnd) {
          const t = r.varint(typeEnd);
          if (t === 0x0a) apiVersion = r.string(typeEnd);
          else if (t === 0x12) kind = r.string(typeEnd);
          else r.skip(t & 7, typeEnd);
        }
      } else if (tag === 0x12) {
        const start = r.bytes(end);
        raw = [start, r.pos];
      } else if (tag === 0x1a) contentEncoding = r.string(end);
      else r.skip(tag & 7, end);
    }
  } catch (err) {
    throw new ProtobufError((err as Error).message);
  }
  if (contentEncoding) throw new ProtobufError(`unsupported content encoding ${JSON.stringify(contentEncoding)}`);
  if (!kind) throw new ProtobufError("Object 'Kind' is missing in protobuf body");
  const name = protobufMessageOf(apiVersion, kind);
  if (!name) throw new ProtobufError(`no kind "${kind}" is registered for version "${apiVersion}"`);
  let object: unknown;
  try {
    const inner = new ProtoReader(body);
    inner.pos = raw[0];
    object = decodeValue(inner, raw[1], name);
  } catch (err) {
    throw err instanceof ProtobufError ? err : new ProtobufError((err as Error).message);
  }
  return { apiVersion, kind, object: { apiVersion, kind, ...(object as Obj) } };
}

// ---- encoding ----------------------------------------------------------------------------------

function writeScalar(w: ProtoWriter, f: Field | { type: string }, number: number, v: unknown): void {
  switch (f.type) {
    case 'string':
      return w.string(number, typeof v === 'string' ? v : String(v));
    case 'bytes':
      return w.bytes(number, Buffer.from(typeof v === 'string' ? v : '', 'base64'));
    case 'bool':
      w.tag(number, WIRE_VARINT);
      return w.uvarint(v ? 1 : 0);
    case 'int32':
    case 'int64':
      w.tag(number, WIRE_VARINT);
      return w.svarint(typeof v === 'number' ? v : Number(v) || 0);
    case 'double':
      w.tag(number, WIRE_FIXED64);
      return w.double(typeof v === 'number' ? v : Number(v) || 0);
    default:
      throw new ProtobufError(`unsupported scalar type ${f.type}`);
  }
}

/** The fields of message `name` for a JSON value (special forms turned back into fields). */
function fieldsOf(m: Message, v: unknown): Obj | undefined {
  switch (m.special) {
    case 'time':
    case 'microtime':
      return typeof v === 'string' ? parseTime(v) : undefined;
    case 'duration':
      return typeof v === 'string' ? { duration: parseDuration(v) } : undefined;
    case 'intorstring':
      return typeof v === 'number' ? { type: 0, intVal: v } : { type: 1, strVal: String(v) };
    case 'string':
      return { [m.fields[0]!.json]: String(v) };
    case 'list':
      return { [m.fields[0]!.json]: Array.isArray(v) ? v : [] };
    case 'fieldsv1':
    case 'rawextension':
      return { [m.fields[0]!.json]: Buffer.from(JSON.stringify(v)).toString('base64') };
    default:
      return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : undefined;
  }
}

function encodeValue(w: ProtoWriter, name: string, v: unknown): void {
  const m = message(name);
  const obj = fieldsOf(m, v);
  if (!obj) return;
  for (const f of m.fields) {
    if (f.inline) {
      w.message(f.number, (inner) => encodeValue(inner, f.type, obj));
      continue;
    }
    const value = obj[f.json];
    if (value === undefined) continue;
    if (value === null) {
      // A struct field (not a pointer) is always there in Go: a zero metav1.Time is an empty message.
      if (!f.pointer && !f.repeated && !f.mapKey && f.type.includes('.')) w.message(f.number, () => {});
      continue;
    }
    if (f.mapKey) {
      if (typeof value !== 'object' || Array.isArray(value)) continue;
      for (const key of Object.keys(value).sort()) {
        w.message(f.number, (entry) => {
          writeScalar(entry, { type: f.mapKey! }, 1, key);
          const item = (value as Obj)[key];
          if (f.type.includes('.')) entry.message(2, (inner) => encodeValue(inner, f.type, item));
          else if (item !== null && item !== undefined) writeScalar(entry, f, 2, item);
        });
      }
      continue;
    }
    const items = f.repeated ? (Array.isArray(value) ? value : []) : [value];
    for (const item of items) {
      if (f.type.includes('.')) w.message(f.number, (inner) => encodeValue(inner, f.type, item));
      else if (item !== null && item !== undefined) writeScalar(w, f, f.number, item);
    }
  }
}

/** The protobuf body of an object (or a list) of a kind in the descriptor. Throws ProtobufError. */
export function encodeKubeProtobuf(object: Obj): Buffer {
  const apiVersion = String(object['apiVersion'] ?? '');
  const kind = String(object['kind'] ?? '');
  const name = protobufMessageOf(apiVersion, kind);
  if (!name) throw new ProtobufError(`no protobuf form for ${apiVersion}, Kind=${kind}`);
  const w = new ProtoWriter();
  w.raw(MAGIC);
  w.message(1, (t) => {
    t.string(1, apiVersion);
    t.string(2, kind);
  });
  w.message(2, (inner) => encodeValue(inner, name, object));
  w.string(3, '');
  w.string(4, '');
  return w.finish();
}
