// A synchronous view of the stored ServiceAccounts (namespace/name → uid), kept current by an
// informer, for the service-account token authenticator's "does the account still exist" check
// (kube's legacy/bound token validators read a ServiceAccount lister the same way).

import type { KubeObject } from '../../machinery/object.js';
import type { APIRegistry } from '../../apiserver/registry/registry.js';
import type { ResourceStore } from '../../apiserver/registry/store.js';
import { StoreInformer, type InformerOptions } from './informer.js';

export class ServiceAccountCache {
  private readonly uids = new Map<string, string>();
  private informer: StoreInformer | undefined;
  private syncedPromise: Promise<void> | undefined;
  private waiters: (() => void)[] = [];

  constructor(
    from?: APIRegistry | ResourceStore,
    private readonly opts: InformerOptions = {},
  ) {
    if (from) this.start(from);
  }

  start(from: APIRegistry | ResourceStore): void {
    if (this.informer) return;
    let store: ResourceStore;
    if (typeof (from as APIRegistry).lookup === 'function') {
      const served = (from as APIRegistry).lookup('', 'v1', 'serviceaccounts');
      if (!served) throw new Error('the registry does not serve serviceaccounts/v1');
      store = served.store;
    } else {
      store = from as ResourceStore;
    }
    const key = (o: KubeObject) => `${o.metadata.namespace ?? ''}/${o.metadata.name ?? ''}`;
    this.informer = new StoreInformer(
      store,
      {
        replace: (objects) => {
          this.uids.clear();
          for (const o of objects) this.uids.set(key(o), o.metadata.uid ?? '');
        },
        upsert: (o) => void this.uids.set(key(o), o.metadata.uid ?? ''),
        remove: (o) => void this.uids.delete(key(o)),
      },
      this.opts,
    );
    this.informer.start();
    this.syncedPromise = this.informer.synced();
    for (const w of this.waiters) void this.syncedPromise.then(w);
    this.waiters = [];
  }

  synced(): Promise<void> {
    if (this.syncedPromise) return this.syncedPromise;
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  get hasSynced(): boolean {
    return this.informer?.hasSynced ?? false;
  }

  stop(): void {
    this.informer?.stop();
  }

  /** Whether namespace/name exists (and, when `uid` is given, still has that uid). */
  exists(namespace: string, name: string, uid?: string): boolean {
    const current = this.uids.get(`${namespace}/${name}`);
    if (current === undefined) return false;
    return !uid || current === uid;
  }

  /** The uid of a stored ServiceAccount, for issuing tokens. */
  uidOf(namespace: string, name: string): string | undefined {
    return this.uids.get(`${namespace}/${name}`);
  }
}
