import { ApiException } from '@kubernetes/client-node';
import { findCondition, isConditionTrue, removeCondition, setCondition, type Condition } from './conditions.js';
import {
  alreadyExists,
  conflict,
  isAlreadyExists,
  isConflict,
  isForbidden,
  isGone,
  isNotFound,
  isUnauthorized,
  notFound,
  reasonOf,
  statusOf,
} from './errors.js';
import { quantityValue } from './quantity.js';
import { formatMicroTime, formatTime, normalizeTime } from './time.js';

const target = { group: 'upm.io', resource: 'unitsets', name: 'a' };
const apiError = (code: number, body: unknown) => new ApiException(code, 'failed', body, {});

describe('API error predicates', () => {
  it('read our StatusErrors', () => {
    expect(isNotFound(notFound(target))).toBe(true);
    expect(isAlreadyExists(alreadyExists(target))).toBe(true);
    // AlreadyExists and Conflict share 409 but are told apart by reason, as kube does.
    expect(isConflict(alreadyExists(target))).toBe(false);
    expect(isAlreadyExists(conflict(target, 'modified'))).toBe(false);
    expect(isConflict(conflict(target, 'modified'))).toBe(true);
    expect(reasonOf(notFound(target))).toBe('NotFound');
  });

  it("read client-node's ApiException with a Status body as text or object", () => {
    const text = apiError(409, JSON.stringify({ kind: 'Status', reason: 'AlreadyExists', code: 409 }));
    expect(isAlreadyExists(text)).toBe(true);
    expect(isConflict(text)).toBe(false);
    const obj = apiError(404, { kind: 'Status', reason: 'NotFound', code: 404 });
    expect(isNotFound(obj)).toBe(true);
    expect(statusOf(obj)).toEqual({ code: 404, reason: 'NotFound' });
  });

  it('fall back to the HTTP code when the reason is missing or unknown, as kube does', () => {
    expect(isNotFound(apiError(404, 'not json'))).toBe(true);
    expect(isConflict(apiError(409, { reason: 'SomethingNew' }))).toBe(true);
    expect(isAlreadyExists(apiError(409, 'no reason'))).toBe(false);
    expect(isUnauthorized(apiError(401, ''))).toBe(true);
    expect(isForbidden(apiError(403, ''))).toBe(true);
    expect(isGone(apiError(410, { reason: 'Expired' }))).toBe(true);
  });

  it('say no for errors that are not API errors', () => {
    expect(isNotFound(new Error('ECONNREFUSED'))).toBe(false);
    expect(isNotFound(undefined)).toBe(false);
    expect(reasonOf(Object.assign(new Error('x'), { code: 'ENOENT' }))).toBe('');
  });
});

describe('conditions', () => {
  const t0 = new Date('2026-01-01T00:00:00.123Z');
  const t1 = new Date('2026-01-01T00:05:00Z');

  it('append a new condition with the transition time', () => {
    const { conditions, changed } = setCondition([], { type: 'Ready', status: 'False', reason: 'Starting' }, t0);
    expect(changed).toBe(true);
    expect(conditions).toEqual([
      { type: 'Ready', status: 'False', reason: 'Starting', lastTransitionTime: '2026-01-01T00:00:00Z' },
    ]);
  });

  it('keep lastTransitionTime while the status stays, and move it when the status changes', () => {
    const start = setCondition<Condition>([], { type: 'Ready', status: 'False', reason: 'Starting' }, t0).conditions;
    const sameStatus = setCondition(start, { type: 'Ready', status: 'False', reason: 'Pulling' }, t1);
    expect(sameStatus.changed).toBe(true);
    expect(findCondition(sameStatus.conditions, 'Ready')).toMatchObject({
      reason: 'Pulling',
      lastTransitionTime: '2026-01-01T00:00:00Z',
    });
    const flipped = setCondition(sameStatus.conditions, { type: 'Ready', status: 'True', reason: 'Up' }, t1);
    expect(findCondition(flipped.conditions, 'Ready')?.lastTransitionTime).toBe('2026-01-01T00:05:00Z');
    expect(isConditionTrue(flipped.conditions, 'Ready')).toBe(true);
  });

  it('report no change, and keep other conditions and their order', () => {
    const list: Condition[] = [
      { type: 'A', status: 'True', lastTransitionTime: 'x' },
      { type: 'B', status: 'False', lastTransitionTime: 'y' },
    ];
    const same = setCondition(list, { type: 'A', status: 'True' }, t1);
    expect(same.changed).toBe(false);
    expect(same.conditions).toEqual(list);
    const changed = setCondition(list, { type: 'A', status: 'False' }, t1);
    expect(changed.conditions.map((c) => c.type)).toEqual(['A', 'B']);
    expect(removeCondition(changed.conditions, 'A').map((c) => c.type)).toEqual(['B']);
  });
});

describe('time', () => {
  const d = new Date('2026-03-04T05:06:07.891Z');
  it('formats metav1.Time and MicroTime', () => {
    expect(formatTime(d)).toBe('2026-03-04T05:06:07Z');
    expect(formatMicroTime(d)).toBe('2026-03-04T05:06:07.891000Z');
  });
  it('normalizes what typed clients hand back', () => {
    expect(normalizeTime(d)).toBe('2026-03-04T05:06:07Z');
    expect(normalizeTime('2026-03-04T05:06:07.5+00:00')).toBe('2026-03-04T05:06:07Z');
    expect(normalizeTime('')).toBeUndefined();
    expect(normalizeTime('garbage')).toBe('garbage');
  });
});

describe('quantities', () => {
  it('parse binary, decimal and exponent suffixes', () => {
    expect(quantityValue('1Gi')).toBe(2 ** 30);
    expect(quantityValue('500m')).toBeCloseTo(0.5);
    expect(quantityValue('2k')).toBe(2000);
    expect(quantityValue('1e3')).toBe(1000);
    expect(quantityValue(3)).toBe(3);
  });
  it('compare sizes across units and reject garbage', () => {
    expect(quantityValue('1Gi') > quantityValue('1000Mi')).toBe(true);
    expect(quantityValue('1G') < quantityValue('1Gi')).toBe(true);
    expect(quantityValue('ten')).toBeNaN();
    expect(quantityValue(undefined)).toBeNaN();
  });
});
