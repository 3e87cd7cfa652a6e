// An RBACSource fed from the control plane's own stored RBAC objects: informers on roles,
// clusterroles, rolebindings and clusterrolebindings keep an InMemoryRBACSource current, as
// kube-apiserver's RBAC authorizer reads its shared informers' listers.

import type { KubeObject } from '../../machinery/object.js';
import type { APIRegistry } from '../../apiserver/registry/registry.js';
import type { ResourceStore } from '../../apiserver/registry/store.js';
import { InMemoryRBACSource, type RBACSource } from '../../apiserver/authorization/rbac.js';
import type { ClusterRole, ClusterRoleBinding, Role, RoleBinding } from '../../apiserver/authorization/types.js';
import { RBAC_GROUP } from '../../apiserver/authorization/types.js';
import { StoreInformer, type InformerOptions } from './informer.js';

export interface RBACStores {
  roles: ResourceStore;
  clusterRoles: ResourceStore;
  roleBindings: ResourceStore;
  clusterRoleBindings: ResourceStore;
}

type Kind = 'Role' | 'ClusterRole' | 'RoleBinding' | 'ClusterRoleBinding';

const plurals: Record<Kind, string> = {
  Role: 'roles',
  ClusterRole: 'clusterroles',
  RoleBinding: 'rolebindings',
  ClusterRoleBinding: 'clusterrolebindings',
};

/** The four RBAC stores of a registry serving rbac.authorization.k8s.io/v1. */
export function rbacStoresOf(registry: APIRegistry): RBACStores {
  const get = (kind: Kind): ResourceStore => {
    const served = registry.lookup(RBAC_GROUP, 'v1', plurals[kind]);
    if (!served) throw new Error(`the registry does not serve ${plurals[kind]}.${RBAC_GROUP}/v1`);
    return served.store;
  };
  return {
    roles: get('Role'),
    clusterRoles: get('ClusterRole'),
    roleBindings: get('RoleBinding'),
    clusterRoleBindings: get('ClusterRoleBinding'),
  };
}

function isRegistry(x: APIRegistry | RBACStores): x is APIRegistry {
  return typeof (x as APIRegistry).lookup === 'function';
}

/**
 * Reads like any RBACSource; empty until start() and its first lists (see synced()). Can be
 * created before the server (the authorizer needs it) and started once the registry exists.
 */
export class StoredRBACSource implements RBACSource {
  private readonly cache = new InMemoryRBACSource();
  private readonly keys: Record<Kind, Set<string>> = {
    Role: new Set(),
    ClusterRole: new Set(),
    RoleBinding: new Set(),
    ClusterRoleBinding: new Set(),
  };
  private informers: StoreInformer[] = [];
  private syncedPromise: Promise<void> | undefined;
  private waiters: (() => void)[] = [];

  constructor(
    from?: APIRegistry | RBACStores,
    private readonly opts: InformerOptions = {},
  ) {
    if (from) this.start(from);
  }

  /** Starts the informers (once). */
  start(from: APIRegistry | RBACStores): void {
    if (this.informers.length > 0) return;
    const stores = isRegistry(from) ? rbacStoresOf(from) : from;
    const entries: [Kind, ResourceStore][] = [
      ['ClusterRole', stores.clusterRoles],
      ['ClusterRoleBinding', stores.clusterRoleBindings],
      ['Role', stores.roles],
      ['RoleBinding', stores.roleBindings],
    ];
    this.informers = entries.map(([kind, store]) => new StoreInformer(store, this.handlerFor(kind), this.opts));
    for (const i of this.informers) i.start();
    this.syncedPromise = Promise.all(this.informers.map((i) => i.synced())).then(() => undefined);
    for (const w of this.waiters) void this.syncedPromise.then(w);
    this.waiters = [];
  }

  /** Resolves once every kind has been listed (also when called before start()). */
  synced(): Promise<void> {
    if (this.syncedPromise) return this.syncedPromise;
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  get hasSynced(): boolean {
    return this.informers.length > 0 && this.informers.every((i) => i.hasSynced);
  }

  stop(): void {
    for (const i of this.informers) i.stop();
  }

  private handlerFor(kind: Kind) {
    const keyOf = (o: KubeObject) =>
      kind === 'Role' || kind === 'RoleBinding'
        ? `${o.metadata.namespace ?? ''}/${o.metadata.name ?? ''}`
        : (o.metadata.name ?? '');
    const put = (o: KubeObject) => {
      if (!o.metadata.name) return;
      if ((kind === 'Role' || kind === 'RoleBinding') && !o.metadata.namespace) return;
      this.keys[kind].add(keyOf(o));
      switch (kind) {
        case 'Role':
          return this.cache.putRole(o as unknown as Role);
        case 'ClusterRole':
          return this.cache.putClusterRole(o as unknown as ClusterRole);
        case 'RoleBinding':
          return this.cache.putRoleBinding(o as unknown as RoleBinding);
        case 'ClusterRoleBinding':
          return this.cache.putClusterRoleBinding(o as unknown as ClusterRoleBinding);
      }
    };
    const remove = (o: KubeObject) => {
      this.keys[kind].delete(keyOf(o));
      this.cache.delete(kind, o.metadata.namespace ?? '', o.metadata.name ?? '');
    };
    return {
      replace: (objects: KubeObject[]) => {
        const keep = new Set(objects.map(keyOf));
        for (const key of [...this.keys[kind]]) {
          if (keep.has(key)) continue;
          const slash = key.indexOf('/');
          const [namespace, name] =
            kind === 'Role' || kind === 'RoleBinding' ? [key.slice(0, slash), key.slice(slash + 1)] : ['', key];
          this.keys[kind].delete(key);
          this.cache.delete(kind, namespace, name);
        }
        for (const o of objects) put(o);
      },
      upsert: put,
      remove,
    };
  }

  listRoles(namespace: string): Role[] {
    return this.cache.listRoles(namespace);
  }

  getRole(namespace: string, name: string): Role | undefined {
    return this.cache.getRole(namespace, name);
  }

  listClusterRoles(): ClusterRole[] {
    return this.cache.listClusterRoles();
  }

  getClusterRole(name: string): ClusterRole | undefined {
    return this.cache.getClusterRole(name);
  }

  listRoleBindings(namespace: string): RoleBinding[] {
    return this.cache.listRoleBindings(namespace);
  }

  listClusterRoleBindings(): ClusterRoleBinding[] {
    return this.cache.listClusterRoleBindings();
  }
}
