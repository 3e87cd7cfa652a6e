// Decoding review objects from Kubernetes protobuf, with bodies encoded here by hand the way
// client-go's protobuf serializer lays them out.

import { decodeReviewProtobuf, readFields } from './protobuf.js';

function varint(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}

/** A length-delimited field. */
function ld(no: number, value: Buffer | string): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value) : value;
  return Buffer.concat([varint((no << 3) | 2), varint(bytes.length), bytes]);
}

const msg = (...parts: Buffer[]) => Buffer.concat(parts);

function envelope(apiVersion: string, kind: string, raw: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from([0x6b, 0x38, 0x73, 0x00]),
    ld(1, msg(ld(1, apiVersion), ld(2, kind))),
    ld(2, raw),
    ld(3, ''),
    ld(4, ''),
  ]);
}

const ssar = { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview' };

it('decodes what kubectl auth can-i sends', () => {
  // metadata{creationTimestamp{}} spec{resourceAttributes{namespace, verb, group, resource, name}} status{allowed=false}
  const raw = msg(
    ld(1, ld(8, Buffer.alloc(0))),
    ld(2, ld(1, msg(ld(1, 'team-a'), ld(2, 'list'), ld(3, 'test.upm.io'), ld(5, 'widgets'), ld(7, '')))),
    ld(3, Buffer.from([0x08, 0x00])),
  );
  expect(decodeReviewProtobuf(envelope(ssar.apiVersion, ssar.kind, raw), ssar)).toEqual({
    ...ssar,
    metadata: {},
    spec: {
      resourceAttributes: { namespace: 'team-a', verb: 'list', group: 'test.upm.io', resource: 'widgets', name: '' },
    },
  });
});

it('decodes SubjectAccessReview users, groups, extra and selectors', () => {
  const sar = { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview' };
  const extraEntry = (k: string, ...vs: string[]) => ld(5, msg(ld(1, k), ld(2, msg(...vs.map((v) => ld(1, v))))));
  const raw = msg(
    ld(1, ld(1, 'named')),
    ld(
      2,
      msg(
        ld(
          1,
          msg(
            ld(2, 'get'),
            ld(5, 'pods'),
            ld(9, msg(ld(1, 'a=b'), ld(2, msg(ld(1, 'a'), ld(2, 'In'), ld(3, 'b'), ld(3, 'c'))))),
          ),
        ),
        ld(3, 'alice'),
        ld(4, 'g1'),
        ld(4, 'g2'),
        extraEntry('scopes', 'x', 'y'),
        ld(6, 'uid-1'),
      ),
    ),
  );
  expect(decodeReviewProtobuf(envelope(sar.apiVersion, sar.kind, raw), sar)).toEqual({
    ...sar,
    metadata: { name: 'named' },
    spec: {
      resourceAttributes: {
        verb: 'get',
        resource: 'pods',
        labelSelector: { rawSelector: 'a=b', requirements: [{ key: 'a', operator: 'In', values: ['b', 'c'] }] },
      },
      user: 'alice',
      groups: ['g1', 'g2'],
      extra: { scopes: ['x', 'y'] },
      uid: 'uid-1',
    },
  });
});

it('decodes TokenReview and SelfSubjectRulesReview', () => {
  const tr = { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview' };
  expect(decodeReviewProtobuf(envelope(tr.apiVersion, tr.kind, ld(2, msg(ld(1, 'tok'), ld(2, 'aud1')))), tr)).toEqual({
    ...tr,
    metadata: {},
    spec: { token: 'tok', audiences: ['aud1'] },
  });
  const ssrr = { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectRulesReview' };
  expect(decodeReviewProtobuf(envelope(ssrr.apiVersion, ssrr.kind, ld(2, ld(1, 'ns'))), ssrr)).toEqual({
    ...ssrr,
    metadata: {},
    spec: { namespace: 'ns' },
  });
});

it('fails with 400 on bad bodies', () => {
  const expect400 = (body: Buffer, message: string | RegExp) => {
    let err: any;
    try {
      decodeReviewProtobuf(body, ssar);
    } catch (e) {
      err = e;
    }
    expect(err?.code).toBe(400);
    expect(err.message).toMatch(message);
  };
  expect400(Buffer.from('{"kind":"x"}'), 'provided data does not appear to be a protobuf message');
  expect400(Buffer.alloc(0), 'the request body is empty');
  expect400(
    envelope('authorization.k8s.io/v1', 'SubjectAccessReview', Buffer.alloc(0)),
    'does not match the expected API version',
  );
  expect400(
    Buffer.concat([envelope(ssar.apiVersion, ssar.kind, Buffer.alloc(0)), Buffer.from([0x12, 0x7f])]),
    /could not be decoded: truncated/,
  );
});

it('reads all wire types', () => {
  const fields = readFields(
    Buffer.from([0x08, 0x96, 0x01, 0x11, 1, 2, 3, 4, 5, 6, 7, 8, 0x1d, 1, 2, 3, 4, 0x22, 0x01, 0x41]),
  );
  expect(fields.map((f) => [f.no, f.wire])).toEqual([
    [1, 0],
    [4, 2],
  ]);
  expect(fields[0].varint).toBe(150n);
  expect(() => readFields(Buffer.from([0x0b]))).toThrow('unsupported wire type 3');
});
