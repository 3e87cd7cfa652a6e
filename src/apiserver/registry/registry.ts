// The set of kinds a server serves, each bound to a generic ResourceStore.

import type { Store } from '../../storage/interface.js';
import type { UserInfo } from '../authentication/authenticator.js';
import type { KubeObject } from '../../machinery/object.js';
import type { AdmissionHook } from './admission-hook.js';
import type { NamespaceLifecycle } from '../admission/namespace-lifecycle.js';
import type { ResourceDefinition } from '../../machinery/definition.js';
import { ResourceStore, type ResourceStoreOptions } from './store.js';
import type { Strategy } from './strategy.js';
import { TableConvertor } from './table.js';

/** A create-only resource computed per request and never stored (TokenReview,
 * SubjectAccessReview): it receives the decoded body and the caller and returns the answer. */
export type VirtualCreate = (body: KubeObject, user: UserInfo) => Promise<KubeObject> | KubeObject;

export interface ServedResource {
  def: ResourceDefinition;
  store: ResourceStore;
  table: TableConvertor;
  virtualCreate?: VirtualCreate;
}

export interface ResourceRegistration {
  definition: ResourceDefinition;
  strategy?: Strategy;
  virtualCreate?: VirtualCreate;
}

export class APIRegistry {
  private readonly byPath = new Map<string, ServedResource>();
  readonly resources: ServedResource[] = [];

  /** `options.decorator` puts a cache in front of storage for every resource (the server passes
   * the watch cache's); without one every watch and list reads storage. */
  constructor(store: Store, registrations: ResourceRegistration[], options: ResourceStoreOptions = {}) {
    for (const { definition, strategy } of registrations) {
      const served: ServedResource = {
        def: definition,
        store: new ResourceStore(definition, store, strategy, options),
        table: new TableConvertor(definition),
      };
      const key = `${definition.group}/${definition.version}/${definition.plural}`;
      if (this.byPath.has(key)) throw new Error(`resource registered twice: ${key}`);
      this.byPath.set(key, served);
      this.resources.push(served);
    }
  }

  /** Stops the caches (their watchers end with 503); call before closing the store. */
  close(): void {
    for (const r of this.resources) r.store.cache?.stop();
  }

  /** Consults these admission webhooks on every write to every served resource. */
  setAdmission(hook: AdmissionHook): void {
    for (const r of this.resources) r.store.admission = hook;
  }

  /** Runs NamespaceLifecycle admission for every served resource. */
  setNamespaceLifecycle(lifecycle: NamespaceLifecycle): void {
    for (const r of this.resources) r.store.lifecycle = lifecycle;
  }

  lookup(group: string, version: string, plural: string): ServedResource | undefined {
    return this.byPath.get(`${group}/${version}/${plural}`);
  }

  definitions(): ResourceDefinition[] {
    return this.resources.map((r) => r.def);
  }

  /** Served group-versions, e.g. [{group:'upm.io', version:'v1alpha1'}]. */
  groupVersions(): { group: string; version: string }[] {
    const seen = new Map<string, { group: string; version: string }>();
    for (const { def } of this.resources)
      seen.set(`${def.group}/${def.version}`, { group: def.group, version: def.version });
    return [...seen.values()];
  }
}
