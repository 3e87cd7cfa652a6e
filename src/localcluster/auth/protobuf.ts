// Decoding of the review kinds from Kubernetes protobuf (`application/vnd.kubernetes.protobuf`),
// the request encoding client-go's typed clients use for built-in kinds: kubectl 1.33's
// `auth can-i` posts its SelfSubjectAccessReview this way. Only the review kinds are covered,
// by their field numbers in k8s.io/api {authentication,authorization}/v1/generated.proto; the
// result is the object's JSON form.
//
// Wire format: the 4 bytes "k8s\0", then a runtime.Unknown {typeMeta(1){apiVersion(1), kind(2)},
// raw(2), contentEncoding(3), contentType(4)} whose `raw` is the object's message.

import { badRequest } from '../../machinery/errors.js';
import type { KubeObject } from '../../machinery/object.js';

export const PROTOBUF_CONTENT_TYPE = 'application/vnd.kubernetes.protobuf';
const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

interface Field {
  no: number;
  wire: number;
  /** varint value, or the bytes of a length-delimited field. */
  varint?: bigint;
  bytes?: Buffer;
}

/** The fields of one message, in order (unknown wire types fail). */
export function readFields(buf: Buffer): Field[] {
  const fields: Field[] = [];
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (pos >= buf.length) throw new Error('truncated varint');
      const b = buf[pos++];
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 63n) throw new Error('varint too long');
    }
  };
  while (pos < buf.length) {
    const key = varint();
    const no = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (no === 0) throw new Error('invalid field number 0');
    switch (wire) {
      case 0:
        fields.push({ no, wire, varint: varint() });
        break;
      case 1:
        if (pos + 8 > buf.length) throw new Error('truncated fixed64');
        pos += 8;
        break;
      case 2: {
        const len = Number(varint());
        if (pos + len > buf.length) throw new Error('truncated length-delimited field');
        fields.push({ no, wire, bytes: buf.subarray(pos, pos + len) });
        pos += len;
        break;
      }
      case 5:
        if (pos + 4 > buf.length) throw new Error('truncated fixed32');
        pos += 4;
        break;
      default:
        throw new Error(`unsupported wire type ${wire}`);
    }
  }
  return fields;
}

const str = (f: Field): string => (f.bytes ?? Buffer.alloc(0)).toString('utf8');

type Schema = Record<number, [string, 'string' | 'strings' | 'int64' | Schema | 'extra' | 'requirements']>;

function decodeMessage(buf: Buffer, schema: Schema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of readFields(buf)) {
    const entry = schema[f.no];
    if (!entry) continue;
    const [name, type] = entry;
    if (type === 'int64') {
      if (f.wire === 0) out[name] = Number(BigInt.asIntN(64, f.varint!));
      continue;
    }
    if (f.wire !== 2) continue;
    if (type === 'string') out[name] = str(f);
    else if (type === 'strings') ((out[name] ??= []) as string[]).push(str(f));
    else if (type === 'extra') {
      // map<string, ExtraValue{items=1}>: entries {key=1, value=2}.
      const map = (out[name] ??= {}) as Record<string, string[]>;
      let key = '';
      const values: string[] = [];
      for (const e of readFields(f.bytes!)) {
        if (e.no === 1 && e.wire === 2) key = str(e);
        if (e.no === 2 && e.wire === 2)
          for (const v of readFields(e.bytes!)) if (v.no === 1 && v.wire === 2) values.push(str(v));
      }
      map[key] = [...(map[key] ?? []), ...values];
    } else if (type === 'requirements') {
      ((out[name] ??= []) as unknown[]).push(
        decodeMessage(f.bytes!, { 1: ['key', 'string'], 2: ['operator', 'string'], 3: ['values', 'strings'] }),
      );
    } else out[name] = decodeMessage(f.bytes!, type);
  }
  return out;
}

const objectMeta: Schema = { 1: ['name', 'string'], 2: ['generateName', 'string'], 3: ['namespace', 'string'] };
const selectorAttributes: Schema = { 1: ['rawSelector', 'string'], 2: ['requirements', 'requirements'] };
const resourceAttributes: Schema = {
  1: ['namespace', 'string'],
  2: ['verb', 'string'],
  3: ['group', 'string'],
  4: ['version', 'string'],
  5: ['resource', 'string'],
  6: ['subresource', 'string'],
  7: ['name', 'string'],
  8: ['fieldSelector', selectorAttributes],
  9: ['labelSelector', selectorAttributes],
};
const nonResourceAttributes: Schema = { 1: ['path', 'string'], 2: ['verb', 'string'] };
const subjectAccessReviewSpec: Schema = {
  1: ['resourceAttributes', resourceAttributes],
  2: ['nonResourceAttributes', nonResourceAttributes],
  3: ['user', 'string'],
  4: ['groups', 'strings'],
  5: ['extra', 'extra'],
  6: ['uid', 'string'],
};

/** Top-level schemas by `<apiVersion>/<kind>`; status is never read from a request. */
const kinds: Record<string, Schema> = {
  'authentication.k8s.io/v1/TokenReview': {
    1: ['metadata', objectMeta],
    2: ['spec', { 1: ['token', 'string'], 2: ['audiences', 'strings'] }],
  },
  'authentication.k8s.io/v1/SelfSubjectReview': { 1: ['metadata', objectMeta] },
  'authentication.k8s.io/v1/TokenRequest': {
    1: ['metadata', objectMeta],
    2: [
      'spec',
      {
        1: ['audiences', 'strings'],
        4: ['expirationSeconds', 'int64'],
        3: [
          'boundObjectRef',
          { 1: ['kind', 'string'], 2: ['apiVersion', 'string'], 3: ['name', 'string'], 4: ['uid', 'string'] },
        ],
      },
    ],
  },
  'authorization.k8s.io/v1/SubjectAccessReview': { 1: ['metadata', objectMeta], 2: ['spec', subjectAccessReviewSpec] },
  'authorization.k8s.io/v1/LocalSubjectAccessReview': {
    1: ['metadata', objectMeta],
    2: ['spec', subjectAccessReviewSpec],
  },
  'authorization.k8s.io/v1/SelfSubjectAccessReview': {
    1: ['metadata', objectMeta],
    2: ['spec', { 1: ['resourceAttributes', resourceAttributes], 2: ['nonResourceAttributes', nonResourceAttributes] }],
  },
  'authorization.k8s.io/v1/SelfSubjectRulesReview': {
    1: ['metadata', objectMeta],
    2: ['spec', { 1: ['namespace', 'string'] }],
  },
};

/**
 * A review object (JSON form) from a protobuf request body. `expected` is the kind the URL
 * serves; a body of another kind is a 400, as kube's decoder answers.
 */
export function decodeReviewProtobuf(body: Buffer, expected: { apiVersion: string; kind: string }): KubeObject {
  if (body.length === 0) throw badRequest('the request body is empty');
  if (body.length < 4 || !body.subarray(0, 4).equals(MAGIC))
    throw badRequest('provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]');
  let apiVersion = '';
  let kind = '';
  let raw: Buffer = Buffer.alloc(0);
  let contentEncoding = '';
  try {
    for (const f of readFields(body.subarray(4))) {
      if (f.no === 1 && f.wire === 2) {
        for (const t of readFields(f.bytes!)) {
          if (t.no === 1 && t.wire === 2) apiVersion = str(t);
          if (t.no === 2 && t.wire === 2) kind = str(t);
        }
      } else if (f.no === 2 && f.wire === 2) raw = f.bytes!;
      else if (f.no === 3 && f.wire === 2) contentEncoding = str(f);
    }
  } catch (err) {
    throw badRequest(`the body of the request could not be decoded: ${(err as Error).message}`);
  }
  if (contentEncoding) throw badRequest(`unsupported content encoding ${JSON.stringify(contentEncoding)}`);
  if (!kind) throw badRequest("Object 'Kind' is missing in protobuf body");
  if (apiVersion !== expected.apiVersion || kind !== expected.kind) {
    throw badRequest(
      `the API version in the data (${apiVersion}) does not match the expected API version (${expected.apiVersion})`,
    );
  }
  const schema = kinds[`${apiVersion}/${kind}`];
  if (!schema) throw badRequest(`no protobuf decoding for ${apiVersion}, Kind=${kind}`);
  let decoded: Record<string, unknown>;
  try {
    decoded = decodeMessage(raw, schema);
  } catch (err) {
    throw badRequest(`the body of the request could not be decoded: ${(err as Error).message}`);
  }
  return { apiVersion, kind, ...decoded, metadata: (decoded['metadata'] as KubeObject['metadata']) ?? {} };
}
