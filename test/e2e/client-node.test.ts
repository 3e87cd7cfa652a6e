// @kubernetes/client-node against the upm.io API beyond plain CRUD: metadata-only list and
// watch (what kube's garbage collector and namespace controller use) and pagination with
// continue tokens.

import { CustomObjectsApi, KubeConfig, setHeaderOptions, Watch } from '@kubernetes/client-node';
import { cleanup, startEngine, type Engine } from './harness.js';

const group = 'upm.io';
const version = 'v1alpha1';
const plural = 'unitsets';
const namespace = 'default';
const metadataListAccept = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';
const metadataAccept = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json';

describe('client-node: metadata-only and pagination', () => {
  let engine: Engine;
  let kc: KubeConfig;
  let api: CustomObjectsApi;

  beforeAll(async () => {
    engine = await startEngine();
    kc = new KubeConfig();
    kc.loadFromFile(engine.kubeconfig);
    api = kc.makeApiClient(CustomObjectsApi);
    for (let i = 0; i < 7; i++) {
      await api.createNamespacedCustomObject({
        group,
        version,
        namespace,
        plural,
        body: {
          apiVersion: 'upm.io/v1alpha1',
          kind: 'UnitSet',
          metadata: { name: `page-${i}`, labels: { batch: 'pages' } },
          spec: { type: 'redis', version: '7.0.15', units: i },
        },
      });
    }
  }, 60_000);
  afterAll(async () => {
    await engine?.stop();
    if (engine) cleanup(engine);
  });

  it('lists PartialObjectMetadataList with metadata and no spec', async () => {
    const list = await api.listNamespacedCustomObject(
      { group, version, namespace, plural, labelSelector: 'batch=pages' },
      setHeaderOptions('Accept', metadataListAccept),
    );
    expect(list.kind).toBe('PartialObjectMetadataList');
    expect(list.apiVersion).toBe('meta.k8s.io/v1');
    expect(list.items).toHaveLength(7);
    for (const item of list.items) {
      expect(item.kind).toBe('PartialObjectMetadata');
      expect(item.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
      expect(item.metadata.labels).toEqual({ batch: 'pages' });
      expect(item.spec).toBeUndefined();
    }
  });

  it('watches PartialObjectMetadata events', async () => {
    const start = await api.listNamespacedCustomObject({ group, version, namespace, plural });
    const events: { type: string; kind: string; name: string; hasSpec: boolean }[] = [];
    // Watch takes no per-request headers: a KubeConfig whose requests carry the metadata Accept.
    const metaKC = new KubeConfig();
    metaKC.loadFromFile(engine.kubeconfig);
    const original = metaKC.applyToFetchOptions.bind(metaKC);
    metaKC.applyToFetchOptions = async (opts) => {
      const out = await original(opts);
      const headers = out.headers as { set?: (k: string, v: string) => void } | Record<string, string> | undefined;
      if (headers && typeof headers.set === 'function') headers.set('Accept', metadataAccept);
      else out.headers = { ...((headers as Record<string, string>) ?? {}), Accept: metadataAccept };
      return out;
    };
    const metaWatch = new Watch(metaKC);
    const controller = await metaWatch.watch(
      `/apis/${group}/${version}/namespaces/${namespace}/${plural}`,
      { resourceVersion: start.metadata.resourceVersion },
      (type, obj) => events.push({ type, kind: obj.kind, name: obj.metadata?.name, hasSpec: obj.spec !== undefined }),
      () => {},
    );
    try {
      await api.deleteNamespacedCustomObject({ group, version, namespace, plural, name: 'page-0' });
      await api.createNamespacedCustomObject({
        group,
        version,
        namespace,
        plural,
        body: {
          apiVersion: 'upm.io/v1alpha1',
          kind: 'UnitSet',
          metadata: { name: 'page-new' },
          spec: { type: 'redis', version: '7.0.15', units: 1 },
        },
      });
      const deadline = Date.now() + 10_000;
      while (events.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(events).toEqual([
        { type: 'DELETED', kind: 'PartialObjectMetadata', name: 'page-0', hasSpec: false },
        { type: 'ADDED', kind: 'PartialObjectMetadata', name: 'page-new', hasSpec: false },
      ]);
    } finally {
      controller.abort();
    }
  });

  it('pages with limit and continue tokens over a consistent snapshot', async () => {
    const names: string[] = [];
    let token: string | undefined;
    let rv: string | undefined;
    let pages = 0;
    do {
      const page = await api.listNamespacedCustomObject({
        group,
        version,
        namespace,
        plural,
        labelSelector: 'batch=pages',
        limit: 2,
        _continue: token,
      });
      pages++;
      rv ??= page.metadata.resourceVersion;
      expect(page.metadata.resourceVersion).toBe(rv);
      if (pages === 1) {
        // A write between pages does not show up in the snapshot being paged.
        await api.patchNamespacedCustomObject(
          { group, version, namespace, plural, name: 'page-3', body: { metadata: { labels: { batch: 'moved' } } } },
          setHeaderOptions('Content-Type', 'application/merge-patch+json'),
        );
      }
      names.push(...page.items.map((i: { metadata: { name: string } }) => i.metadata.name));
      token = page.metadata.continue || undefined;
      if (token) expect(page.metadata.remainingItemCount).toBeUndefined(); // selectors: no count, as kube
    } while (token);
    // Six matching objects in pages of two; with a selector the last page may come back empty.
    expect(pages).toBeGreaterThanOrEqual(3);
    expect(pages).toBeLessThanOrEqual(4);
    expect(names).toEqual(['page-1', 'page-2', 'page-3', 'page-4', 'page-5', 'page-6']);
  });
});
