// StoreInformer against a scripted ResourceStore: list, watch from the list's revision, relist
// after a watch error (replacing the state), and stop.

import type { KubeObject } from '../../machinery/object.js';
import type { ListOptions, ResourceStore, WatchOptions } from '../../apiserver/registry/store.js';
import type { ListResult, WatchSink } from '../../apiserver/storage/interface.js';
import { StoreInformer } from './informer.js';

const obj = (name: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'ns' },
});

class FakeStore {
  lists: ListResult[] = [];
  watches: { opts: WatchOptions; sink: WatchSink; stopped: boolean }[] = [];
  failNextList = false;

  async list(_ns: string | undefined, _opts: ListOptions = {}): Promise<ListResult> {
    if (this.failNextList) {
      this.failNextList = false;
      throw new Error('storage down');
    }
    return this.lists.shift() ?? { items: [], resourceVersion: '1' };
  }

  async watch(_ns: string | undefined, opts: WatchOptions, sink: WatchSink) {
    const w = { opts, sink, stopped: false };
    this.watches.push(w);
    return { stop: () => void (w.stopped = true), progressRevision: () => 0 };
  }
}

const tick = () => new Promise((r) => setTimeout(r, 5));

it('lists, watches from the list revision, relists after an error, stops', async () => {
  const store = new FakeStore();
  store.lists.push({ items: [obj('a'), obj('b')], resourceVersion: '10' });
  store.lists.push({ items: [obj('c')], resourceVersion: '20' });
  const state = new Map<string, KubeObject>();
  const errors: unknown[] = [];
  const informer = new StoreInformer(
    store as unknown as ResourceStore,
    {
      replace: (objects) => {
        state.clear();
        for (const o of objects) state.set(o.metadata.name!, o);
      },
      upsert: (o) => void state.set(o.metadata.name!, o),
      remove: (o) => void state.delete(o.metadata.name!),
    },
    { retryMs: 1, onError: (e) => errors.push(e) },
  );
  informer.start();
  await informer.synced();
  expect([...state.keys()]).toEqual(['a', 'b']);
  expect(store.watches[0].opts.resourceVersion).toBe('10');

  store.watches[0].sink.event('ADDED', obj('d'));
  store.watches[0].sink.event('DELETED', obj('a'));
  expect([...state.keys()].sort()).toEqual(['b', 'd']);

  store.failNextList = true;
  store.watches[0].sink.error(new Error('too old resource version'));
  expect(store.watches[0].stopped).toBe(true);
  // Late events of the dead watch are ignored.
  store.watches[0].sink.event('ADDED', obj('zombie'));
  for (let i = 0; i < 100 && store.watches.length < 2; i++) await tick();
  expect(errors.map((e) => (e as Error).message)).toEqual(['too old resource version', 'storage down']);
  expect([...state.keys()]).toEqual(['c']);
  expect(store.watches[1].opts.resourceVersion).toBe('20');

  informer.stop();
  expect(store.watches[1].stopped).toBe(true);
  store.watches[1].sink.event('ADDED', obj('after-stop'));
  expect(state.has('after-stop')).toBe(false);
});
