import type { Unit } from '../../../api/generated/types.js';
import { roleLabel } from '../../../api/labels.js';
import { credentialsFrom } from './credentials.js';
import { addressOf, resolveInstance } from './instances.js';
import { podRoleLabelPatch, replicationLabel, replicationServices } from './services.js';

const unit = (status: Unit['status']): Unit =>
  ({ apiVersion: 'upm.io/v1alpha1', kind: 'Unit', metadata: { name: 'db-0' }, spec: {}, status }) as unknown as Unit;
const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('resolveInstance', () => {
  it('reaches an external host on its port or the default one', () => {
    expect(resolveInstance({ name: 'a', host: '10.0.0.5' }, undefined, 3306)).toEqual({
      ok: true,
      endpoint: { name: 'a', host: '10.0.0.5', port: 3306 },
    });
    expect(resolveInstance({ name: 'a', host: 'db.example', port: 3307 }, undefined, 3306)).toMatchObject({
      endpoint: { port: 3307 },
    });
  });
  it('reaches a Unit by its DNS name or Pod IP, and says why it cannot', () => {
    const u = unit({ address: 'db-0.db-headless.ns.svc', podIP: '127.0.10.2' } as Unit['status']);
    const ref = { name: 'a', unitRef: { name: 'db-0' } };
    expect(resolveInstance(ref, u, 6379)).toMatchObject({
      ok: true,
      endpoint: { host: 'db-0.db-headless.ns.svc', unit: 'db-0' },
    });
    expect(resolveInstance(ref, u, 6379, 'podIP')).toMatchObject({ ok: true, endpoint: { host: '127.0.10.2' } });
    expect(resolveInstance(ref, undefined, 6379)).toMatchObject({ ok: false, reason: 'UnitNotFound' });
    expect(resolveInstance(ref, unit({} as Unit['status']), 6379, 'podIP')).toMatchObject({
      ok: false,
      reason: 'UnitNotAddressable',
      message: 'Unit "db-0" has no status.podIP yet',
    });
  });
  it('formats IPv6 addresses with brackets', () => {
    expect(addressOf({ host: '::1', port: 6379 })).toBe('[::1]:6379');
    expect(addressOf({ host: '127.0.0.1', port: 6379 })).toBe('127.0.0.1:6379');
  });
});

describe('credentialsFrom', () => {
  const ref = { name: 'creds' };
  const secret = (data: Record<string, string>) => ({ metadata: { name: 'creds' }, data });
  it('reads the user and password keys', () => {
    expect(credentialsFrom(ref, secret({ username: b64('repl'), password: b64('s3cret') }))).toEqual({
      ok: true,
      credentials: { username: 'repl', password: 's3cret' },
    });
    expect(credentialsFrom({ name: 'creds', passwordKey: 'pw' }, secret({ pw: b64('x') }))).toEqual({
      ok: true,
      credentials: { username: undefined, password: 'x' },
    });
  });
  it('reports a missing Secret or key', () => {
    expect(credentialsFrom(ref, undefined)).toMatchObject({ ok: false, reason: 'SecretNotFound' });
    expect(credentialsFrom(ref, secret({ username: b64('u') }))).toMatchObject({
      ok: false,
      reason: 'SecretKeyMissing',
      message: 'Secret "creds" has no key "password"',
    });
  });
});

describe('replication Services and Pod labels', () => {
  const owner = {
    apiVersion: 'upm.io/v1alpha1',
    kind: 'RedisReplication',
    metadata: { name: 'cache', namespace: 'ns', uid: 'u1' },
  };
  it('selects the primary and the replicas of this object only', () => {
    const [rw, ro] = replicationServices(owner, undefined, { name: 'redis', port: 6379 });
    expect(rw.metadata!.name).toBe('cache-readwrite');
    expect(rw.spec!.selector).toEqual({ [replicationLabel]: 'cache', [roleLabel]: 'primary' });
    expect(ro.spec!.selector).toEqual({ [replicationLabel]: 'cache', [roleLabel]: 'replica' });
    expect(rw.metadata!.ownerReferences![0]).toMatchObject({ kind: 'RedisReplication', uid: 'u1', controller: true });
    expect(replicationServices(owner, { readOnly: false }, { name: 'redis', port: 6379 })).toHaveLength(1);
  });
  it('patches Pod labels only when they differ', () => {
    const pod = { metadata: { name: 'db-0', labels: { [replicationLabel]: 'cache', [roleLabel]: 'replica' } } };
    expect(podRoleLabelPatch(pod, 'cache', 'replica')).toBeUndefined();
    expect(podRoleLabelPatch(pod, 'cache', 'primary')).toEqual({ [replicationLabel]: 'cache', [roleLabel]: 'primary' });
    expect(podRoleLabelPatch(pod, 'cache', undefined)).toEqual({ [replicationLabel]: null, [roleLabel]: null });
    expect(podRoleLabelPatch({ metadata: { name: 'x' } }, 'cache', undefined)).toBeUndefined();
  });
});
