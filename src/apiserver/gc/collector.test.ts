import { pino } from 'pino';
import { openSqliteStore } from '../../storage/sqlite/store.js';
import type { Store } from '../../storage/interface.js';
import { APIRegistry } from '../registry/registry.js';
import type { ResourceStore } from '../registry/store.js';
import type { KubeObject } from '../../machinery/object.js';
import { gadgetDefinition, widgetDefinition } from '../testing/widget.js';
import { GarbageCollector } from './collector.js';
import { watchCacheDecorator } from '../watchcache/decorator.js';

let store: Store;
let registry: APIRegistry;
let collector: GarbageCollector;
let widgets: ResourceStore;
let gadgets: ResourceStore;

beforeEach(async () => {
  store = openSqliteStore(':memory:');
  registry = new APIRegistry(store, [{ definition: widgetDefinition }, { definition: gadgetDefinition }], {
    decorator: watchCacheDecorator(),
  });
  widgets = registry.lookup('test.upm.io', 'v1', 'widgets')!.store;
  gadgets = registry.lookup('test.upm.io', 'v1', 'gadgets')!.store;
  collector = new GarbageCollector(registry, pino({ level: 'silent' }));
  await collector.start();
});
afterEach(async () => {
  collector.stop();
  await store.close();
});

const ref = (o: KubeObject, i = 0) => ({
  apiVersion: o.apiVersion,
  kind: o.kind,
  name: o.metadata.name!,
  uid: o.metadata.uid!,
  controller: i === 0,
  blockOwnerDeletion: true,
});

async function widget(name: string, owners: KubeObject[] = [], finalizers?: string[]): Promise<KubeObject> {
  return widgets.create('default', {
    apiVersion: 'test.upm.io/v1',
    kind: 'Widget',
    metadata: {
      name,
      ...(owners.length ? { ownerReferences: owners.map((o, i) => ref(o, i)) } : {}),
      ...(finalizers ? { finalizers } : {}),
    },
    spec: { size: 1 },
  });
}

async function names(): Promise<string[]> {
  return (await widgets.list('default')).items.map((o) => o.metadata.name!).sort();
}

async function eventually(cond: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

it('deletes dependents in the background once their only owner is gone', async () => {
  const owner = await widget('owner');
  await widget('d1', [owner]);
  const d2 = await widget('d2', [owner]);
  await widget('grandchild', [d2]);
  await widget('unrelated');
  await widgets.delete('default', 'owner', { propagationPolicy: 'Background' });
  await eventually(async () => (await names()).join() === 'unrelated');
});

it('keeps a dependent that still has another owner, dropping the dangling reference', async () => {
  const a = await widget('a');
  const b = await widget('b');
  await widget('shared', [a, b]);
  await widgets.delete('default', 'a');
  await eventually(async () => (await widgets.get('default', 'shared')).metadata.ownerReferences?.length === 1);
  expect((await widgets.get('default', 'shared')).metadata.ownerReferences?.[0].name).toBe('b');
});

it('foreground deletion removes dependents first and the owner last', async () => {
  const owner = await widget('owner');
  await widget('d1', [owner], ['test.upm.io/hold']);
  const first = await widgets.delete('default', 'owner', { propagationPolicy: 'Foreground' });
  expect(first.deleted).toBe(false);
  expect(first.object.metadata.finalizers).toEqual(['foregroundDeletion']);
  // The dependent is being deleted but held by its own finalizer: the owner must wait.
  await eventually(async () => !!(await widgets.get('default', 'd1')).metadata.deletionTimestamp);
  await collector.idle();
  expect((await widgets.get('default', 'owner')).metadata.deletionTimestamp).toBeDefined();
  const d1 = await widgets.get('default', 'd1');
  await widgets.update('default', 'd1', {
    ...d1,
    metadata: { ...d1.metadata, finalizers: (d1.metadata.finalizers ?? []).filter((f) => f !== 'test.upm.io/hold') },
  });
  await eventually(async () => (await names()).length === 0);
});

it('orphan deletion removes the owner reference from dependents and keeps them', async () => {
  const owner = await widget('owner');
  await widget('d1', [owner]);
  await widgets.delete('default', 'owner', { propagationPolicy: 'Orphan' });
  await eventually(async () => (await names()).join() === 'd1');
  expect((await widgets.get('default', 'd1')).metadata.ownerReferences).toBeUndefined();
});

it('collects dependents of cluster-scoped owners and those orphaned before it started', async () => {
  const g = await gadgets.create('', {
    apiVersion: 'test.upm.io/v1',
    kind: 'Gadget',
    metadata: { name: 'g' },
    spec: { size: 1 },
  });
  await widget('child', [g]);
  collector.stop();
  await gadgets.delete('', 'g');
  expect(await names()).toEqual(['child']);
  collector = new GarbageCollector(registry, pino({ level: 'silent' }));
  await collector.start();
  await eventually(async () => (await names()).length === 0);
});

it('leaves owners of kinds it does not serve alone', async () => {
  await widgets.create('default', {
    apiVersion: 'test.upm.io/v1',
    kind: 'Widget',
    metadata: { name: 'pod-owned', ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: 'p', uid: 'not-here' }] },
    spec: { size: 1 },
  });
  await new Promise((r) => setTimeout(r, 100));
  await collector.idle();
  expect(await names()).toEqual(['pod-owned']);
});
