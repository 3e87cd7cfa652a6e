import { openSqliteStore } from '../../storage/sqlite/store.js';
import type { Store } from '../../storage/interface.js';
import { StatusError } from '../../machinery/errors.js';
import { gadgetDefinition, widgetDefinition } from '../testing/widget.js';
import { ResourceStore } from './store.js';
import type { KubeObject } from '../../machinery/object.js';
import { watchCacheDecorator } from '../watchcache/decorator.js';

let store: Store;
let widgets: ResourceStore;
let gadgets: ResourceStore;

beforeEach(() => {
  store = openSqliteStore(':memory:');
  widgets = new ResourceStore(widgetDefinition, store, {}, { decorator: watchCacheDecorator() });
  gadgets = new ResourceStore(gadgetDefinition, store, {}, { decorator: watchCacheDecorator() });
});
afterEach(async () => store.close());

const widget = (name: string, spec: Record<string, unknown> = { size: 1 }, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'test.upm.io/v1',
  kind: 'Widget',
  metadata: { name, ...extra },
  spec,
});

async function statusOf(p: Promise<unknown>): Promise<{ code: number; reason: string; message: string }> {
  try {
    await p;
  } catch (err) {
    if (err instanceof StatusError) return { code: err.code, reason: err.reason, message: err.message };
    throw err;
  }
  throw new Error('expected a StatusError');
}

describe('create', () => {
  it('sets server-owned metadata, applies defaults and drops status', async () => {
    const obj = await widgets.create('default', { ...widget('a'), status: { size: 9 } });
    expect(obj.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(obj.metadata.generation).toBe(1);
    expect(obj.metadata.namespace).toBe('default');
    expect(obj.metadata.resourceVersion).toMatch(/^\d+$/);
    expect(obj.metadata.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect((obj['spec'] as { color: string }).color).toBe('red');
    expect(obj['status']).toBeUndefined();
  });

  it('rejects an existing name with AlreadyExists and invalid specs with 422 naming the field', async () => {
    await widgets.create('default', widget('a'));
    expect(await statusOf(widgets.create('default', widget('a')))).toMatchObject({
      code: 409,
      reason: 'AlreadyExists',
      message: 'widgets.test.upm.io "a" already exists',
    });
    const bad = await statusOf(widgets.create('default', widget('b', { size: -1 })));
    expect(bad).toMatchObject({ code: 422, reason: 'Invalid' });
    expect(bad.message).toContain('Widget.test.upm.io "b" is invalid: spec.size: Invalid value: -1');
    const badName = await statusOf(widgets.create('default', widget('Bad_Name')));
    expect(badName.message).toContain('metadata.name: Invalid value: "Bad_Name"');
  });

  it('generates names from generateName', async () => {
    const obj = await widgets.create('default', { ...widget(''), metadata: { generateName: 'w-' } });
    expect(obj.metadata.name).toMatch(/^w-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  });

  it('rejects unknown fields under Strict, reports them under Warn and prunes them', async () => {
    const strict = await statusOf(
      widgets.create('default', widget('a', { size: 1, bogus: true }), { fieldValidation: 'Strict' }),
    );
    expect(strict).toMatchObject({ code: 400, reason: 'BadRequest' });
    expect(strict.message).toContain('unknown field "spec.bogus"');
    const warnings: string[] = [];
    const obj = await widgets.create('default', widget('a', { size: 1, bogus: true, extra: { free: 1 } }), {
      fieldValidation: 'Warn',
      warnings,
    });
    expect(warnings).toEqual(['unknown field "spec.bogus"']);
    expect(obj['spec']).toEqual({ size: 1, color: 'red', extra: { free: 1 } });
  });

  it('rejects a body whose kind or namespace does not match the URL', async () => {
    expect((await statusOf(widgets.create('default', { ...widget('a'), kind: 'Gadget' }))).code).toBe(400);
    expect((await statusOf(widgets.create('default', widget('a', { size: 1 }, { namespace: 'other' })))).code).toBe(
      400,
    );
  });

  it('dry run validates and stores nothing', async () => {
    await widgets.create('default', widget('a'), { dryRun: true });
    expect((await widgets.list('default')).items).toHaveLength(0);
  });
});

describe('update', () => {
  it('requires a resourceVersion, answers 409 to a stale one and bumps generation on spec changes only', async () => {
    const a = await widgets.create('default', widget('a'));
    const noRV = await statusOf(widgets.update('default', 'a', widget('a', { size: 2 })));
    expect(noRV).toMatchObject({ code: 422 });
    const updated = await widgets.update('default', 'a', { ...a, spec: { size: 2 } });
    expect(updated.metadata.generation).toBe(2);
    const stale = await statusOf(widgets.update('default', 'a', { ...a, spec: { size: 3 } }));
    expect(stale).toMatchObject({ code: 409, reason: 'Conflict' });
    expect(stale.message).toBe(
      'Operation cannot be fulfilled on widgets.test.upm.io "a": the object has been modified; please apply your changes to the latest version and try again',
    );
    const labelled = await widgets.update('default', 'a', {
      ...updated,
      metadata: { ...updated.metadata, labels: { x: 'y' } },
    });
    expect(labelled.metadata.generation).toBe(2);
    expect(labelled.metadata.uid).toBe(a.metadata.uid);
  });

  it('keeps status on main-resource updates and only status on status updates', async () => {
    const a = await widgets.create('default', widget('a'));
    const withStatus = await widgets.updateStatus('default', 'a', { ...a, spec: { size: 7 }, status: { size: 1 } });
    expect(withStatus['status']).toEqual({ size: 1 });
    expect(withStatus['spec']).toEqual({ size: 1, color: 'red' });
    expect(withStatus.metadata.generation).toBe(1);
    const main = await widgets.update('default', 'a', { ...withStatus, status: { size: 5 } });
    expect(main['status']).toEqual({ size: 1 });
  });

  it('retries unpinned read-modify-write under concurrency', async () => {
    await widgets.create('default', widget('a', { size: 0 }));
    await Promise.all(
      Array.from({ length: 20 }, () =>
        widgets.guaranteedUpdate('default', 'a', (cur) => {
          const spec = cur['spec'] as { size: number };
          return {
            ...cur,
            metadata: { ...cur.metadata, resourceVersion: undefined },
            spec: { ...spec, size: spec.size + 1 },
          } as KubeObject;
        }),
      ),
    );
    expect(((await widgets.get('default', 'a'))['spec'] as { size: number }).size).toBe(20);
  });
});

describe('scale', () => {
  it('reads and writes the replica path and publishes the selector', async () => {
    await widgets.create('default', widget('a', { size: 2 }));
    const cur = await widgets.get('default', 'a');
    await widgets.updateStatus('default', 'a', { ...cur, status: { size: 2, selector: 'app=a' } });
    const scaled = await widgets.updateScale('default', 'a', (s) => ({ ...s, spec: { replicas: 5 } }));
    expect(scaled).toMatchObject({
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      spec: { replicas: 5 },
      status: { replicas: 2, selector: 'app=a' },
    });
    expect(((await widgets.get('default', 'a'))['spec'] as { size: number }).size).toBe(5);
  });
});

describe('managedFields', () => {
  const entries = (obj: KubeObject) =>
    (obj.metadata.managedFields ?? []).map((e) => ({
      manager: e.manager,
      operation: e.operation,
      subresource: e.subresource,
      fieldsV1: e.fieldsV1,
    }));

  it('records an Update entry per manager and subresource and keeps them when a body omits them', async () => {
    const created = await widgets.create('default', widget('a'), { fieldManager: 'creator' });
    expect(entries(created)).toEqual([
      {
        manager: 'creator',
        operation: 'Update',
        subresource: undefined,
        fieldsV1: { 'f:spec': { '.': {}, 'f:color': {}, 'f:size': {} } },
      },
    ]);
    const labelled = await widgets.guaranteedUpdate(
      'default',
      'a',
      (cur) => ({ ...cur, metadata: { ...cur.metadata, labels: { x: 'y' } } }),
      { fieldManager: 'labeller' },
    );
    await widgets.updateScale('default', 'a', (s) => ({ ...s, spec: { replicas: 4 } }), { fieldManager: 'scaler' });
    const { managedFields: _mf, ...meta } = (await widgets.get('default', 'a')).metadata;
    const replaced = await widgets.update(
      'default',
      'a',
      { ...widget('a', { size: 4, color: 'blue' }), metadata: meta },
      { fieldManager: 'replacer' },
    );
    expect(labelled.metadata.managedFields).toHaveLength(2);
    // Sorted by manager: kube orders by time (seconds) first, which may tick during the test.
    expect(entries(replaced).sort((p, q) => p.manager!.localeCompare(q.manager!))).toEqual([
      {
        manager: 'creator',
        operation: 'Update',
        subresource: undefined,
        fieldsV1: { 'f:spec': {} },
      },
      {
        manager: 'labeller',
        operation: 'Update',
        subresource: undefined,
        fieldsV1: { 'f:metadata': { 'f:labels': { '.': {}, 'f:x': {} } } },
      },
      { manager: 'replacer', operation: 'Update', subresource: undefined, fieldsV1: { 'f:spec': { 'f:color': {} } } },
      { manager: 'scaler', operation: 'Update', subresource: 'scale', fieldsV1: { 'f:spec': { 'f:size': {} } } },
    ]);
    for (const e of replaced.metadata.managedFields!) expect(e.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it('resets only on an explicit empty list, and stops tracking until the next apply', async () => {
    const a = await widgets.create('default', widget('a'), { fieldManager: 'creator' });
    const reset = await widgets.update(
      'default',
      'a',
      { ...a, metadata: { ...a.metadata, managedFields: [] } },
      { fieldManager: 'resetter' },
    );
    expect(reset.metadata.managedFields).toBeUndefined();
    const later = await widgets.update('default', 'a', { ...reset, spec: { size: 3 } }, { fieldManager: 'later' });
    expect(later.metadata.managedFields).toBeUndefined();
  });

  it('caps Update entries at 10 with an ancient-changes bucket', async () => {
    await widgets.create('default', widget('a'), { fieldManager: 'creator' });
    for (let i = 0; i < 12; i++) {
      await widgets.guaranteedUpdate(
        'default',
        'a',
        (cur) => ({ ...cur, metadata: { ...cur.metadata, labels: { ...cur.metadata.labels, [`l${i}`]: 'v' } } }),
        { fieldManager: `m${i}` },
      );
    }
    const mf = (await widgets.get('default', 'a')).metadata.managedFields!;
    expect(mf).toHaveLength(10);
    expect(mf.map((e) => e.manager)).toContain('ancient-changes');
  });
});

describe('delete', () => {
  it('holds an object with finalizers until they are removed', async () => {
    await widgets.create('default', widget('a', { size: 1 }, { finalizers: ['test.upm.io/hold'] }));
    const first = await widgets.delete('default', 'a');
    expect(first.deleted).toBe(false);
    expect(first.object.metadata.deletionTimestamp).toBeDefined();
    expect(first.object.metadata.generation).toBe(2);
    const cur = await widgets.get('default', 'a');
    const addFinalizer = await statusOf(
      widgets.update('default', 'a', {
        ...cur,
        metadata: { ...cur.metadata, finalizers: ['test.upm.io/hold', 'other.io/x'] },
      }),
    );
    expect(addFinalizer.code).toBe(422);
    await widgets.update('default', 'a', { ...cur, metadata: { ...cur.metadata, finalizers: [] } });
    expect((await statusOf(widgets.get('default', 'a'))).code).toBe(404);
  });

  it('checks uid and resourceVersion preconditions', async () => {
    const a = await widgets.create('default', widget('a'));
    expect((await statusOf(widgets.delete('default', 'a', { preconditions: { uid: 'nope' } }))).code).toBe(409);
    expect(
      (
        await statusOf(
          widgets.delete('default', 'a', { preconditions: { resourceVersion: '1' + a.metadata.resourceVersion } }),
        )
      ).code,
    ).toBe(409);
    expect((await widgets.delete('default', 'a', { preconditions: { uid: a.metadata.uid } })).deleted).toBe(true);
  });
});

describe('list', () => {
  beforeEach(async () => {
    for (let i = 0; i < 25; i++) {
      await widgets.create(
        i % 2 ? 'odd' : 'even',
        widget(
          `w${String(i).padStart(2, '0')}`,
          { size: i, color: i % 3 ? 'red' : 'blue' },
          { labels: { n: String(i), parity: i % 2 ? 'odd' : 'even' } },
        ),
      );
    }
  });

  it('filters by label and field selectors and scopes by namespace', async () => {
    expect((await widgets.list('odd')).items).toHaveLength(12);
    expect(
      (await widgets.list(undefined, { labelSelector: 'parity=even,n in (0,2,4,5)' })).items.map(
        (o) => o.metadata.name,
      ),
    ).toEqual(['w00', 'w02', 'w04']);
    expect((await widgets.list(undefined, { fieldSelector: 'metadata.name=w03' })).items).toHaveLength(1);
    expect((await widgets.list(undefined, { fieldSelector: 'spec.color=blue' })).items).toHaveLength(9);
    expect((await statusOf(widgets.list(undefined, { fieldSelector: 'spec.size=1' }))).message).toBe(
      '"spec.size" is not a known field selector: only "metadata.name", "metadata.namespace", "spec.color"',
    );
  });

  it('pages with limit and continue over a consistent snapshot', async () => {
    const seen: string[] = [];
    let cont: string | undefined;
    let rv: string | undefined;
    do {
      const page = await widgets.list(undefined, { limit: 4, continue: cont });
      rv ??= page.resourceVersion;
      expect(page.resourceVersion).toBe(rv);
      if (seen.length === 0) await widgets.create('even', widget('zz-late'));
      seen.push(...page.items.map((o) => o.metadata.name!));
      cont = page.continue;
    } while (cont);
    expect(seen).toHaveLength(25);
    expect(new Set(seen).size).toBe(25);
  });
});

describe('watch', () => {
  it('sends initial state, then changes, with selector transitions as ADDED/DELETED', async () => {
    await widgets.create('default', widget('a', { size: 1 }, { labels: { app: 'x' } }));
    const events: string[] = [];
    const w = await widgets.watch(
      'default',
      { labelSelector: 'app=x' },
      {
        event: (type, obj) => events.push(`${type}:${obj.metadata.name}`),
        error: (err) => events.push(`ERROR:${err.message}`),
      },
    );
    const a = await widgets.get('default', 'a');
    await widgets.update('default', 'a', { ...a, spec: { size: 2 } });
    const a2 = await widgets.get('default', 'a');
    await widgets.update('default', 'a', { ...a2, metadata: { ...a2.metadata, labels: { app: 'y' } } });
    await widgets.create('default', widget('b', { size: 1 }, { labels: { app: 'x' } }));
    await widgets.delete('default', 'b');
    await new Promise((r) => setTimeout(r, 50));
    w.stop();
    expect(events).toEqual(['ADDED:a', 'MODIFIED:a', 'DELETED:a', 'ADDED:b', 'DELETED:b']);
  });

  it('resumes from a resourceVersion with exactly the missed events', async () => {
    const a = await widgets.create('default', widget('a'));
    await widgets.update('default', 'a', { ...a, spec: { size: 3 } });
    await widgets.create('default', widget('b'));
    const events: string[] = [];
    const w = await widgets.watch(
      'default',
      { resourceVersion: a.metadata.resourceVersion },
      {
        event: (type, obj) => events.push(`${type}:${obj.metadata.name}:${obj.metadata.resourceVersion}`),
        error: () => {},
      },
    );
    await new Promise((r) => setTimeout(r, 50));
    w.stop();
    expect(events.map((e) => e.split(':').slice(0, 2).join(':'))).toEqual(['MODIFIED:a', 'ADDED:b']);
  });
});

describe('cluster-scoped kinds', () => {
  it('ignore a namespace in the body and list across the cluster', async () => {
    const g = await gadgets.create('', {
      apiVersion: 'test.upm.io/v1',
      kind: 'Gadget',
      metadata: { name: 'g', namespace: 'x' },
      spec: { size: 1 },
    });
    expect(g.metadata.namespace).toBeUndefined();
    expect((await gadgets.list(undefined)).items).toHaveLength(1);
  });
});

describe('list versioning', () => {
  it('reads exactly at a revision with Exact (or a limit) and the latest with NotOlderThan', async () => {
    const a = await widgets.create('default', widget('a', { size: 1 }));
    await widgets.update('default', 'a', { ...a, spec: { size: 2 } });
    const rv = a.metadata.resourceVersion!;
    const exact = await widgets.list('default', { resourceVersion: rv, resourceVersionMatch: 'Exact' });
    expect(exact.resourceVersion).toBe(rv);
    expect((exact.items[0]['spec'] as { size: number }).size).toBe(1);
    const limited = await widgets.list('default', { resourceVersion: rv, limit: 10 });
    expect((limited.items[0]['spec'] as { size: number }).size).toBe(1);
    const latest = await widgets.list('default', { resourceVersion: rv, resourceVersionMatch: 'NotOlderThan' });
    expect((latest.items[0]['spec'] as { size: number }).size).toBe(2);
  });

  it.each([
    [{ resourceVersionMatch: 'Exact' }, 422, 'resourceVersionMatch is forbidden unless resourceVersion is provided'],
    [
      { resourceVersion: '0', resourceVersionMatch: 'Exact' },
      422,
      'resourceVersionMatch "exact" is forbidden for resourceVersion "0"',
    ],
    [{ resourceVersion: '1', resourceVersionMatch: 'Sometimes' }, 422, 'Unsupported value: "Sometimes"'],
    [{ resourceVersion: 'abc' }, 422, 'resourceVersion'],
  ])('rejects %j with %d', async (opts, code, text) => {
    const s = await statusOf(widgets.list('default', opts));
    expect(s.code).toBe(code);
    expect(s.message).toContain(text);
  });

  it('rejects a continue token combined with a resourceVersion or a match', async () => {
    for (let i = 0; i < 3; i++) await widgets.create('default', widget(`w${i}`));
    const page = await widgets.list('default', { limit: 1 });
    expect(
      (await statusOf(widgets.list('default', { limit: 1, continue: page.continue, resourceVersion: '5' }))).code,
    ).toBe(400);
    expect(
      (
        await statusOf(
          widgets.list('default', {
            limit: 1,
            continue: page.continue,
            resourceVersion: '5',
            resourceVersionMatch: 'Exact',
          }),
        )
      ).code,
    ).toBe(422);
    expect((await statusOf(widgets.list('default', { continue: 'garbage' }))).code).toBe(400);
  });

  it('answers 504 with ResourceVersionTooLarge for a revision the store has not reached', async () => {
    const s = await statusOf(
      widgets.list('default', { resourceVersion: '999999', resourceVersionMatch: 'NotOlderThan' }),
    );
    expect(s).toMatchObject({ code: 504, reason: 'Timeout' });
  }, 10_000);
});
