// The webhooks' view of the cluster: UnitTemplates, SidecarSets and Namespaces kept in memory by
// list+watch (the controller runtime's informers), so a review reads memory, not the API. An
// informer that fails (the API server restarts, the upm.io APIService is not available yet) lists
// again with a growing delay; until each has listed once the state is unavailable, which fails
// the call so that the webhook configuration's failurePolicy decides.

import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { SidecarSetSpec, UnitTemplateSpec } from '../api/generated/types.js';
import { KubeClient, type ResourceType } from '../controllers/runtime/client.js';
import { Informer } from '../controllers/runtime/informer.js';
import { StateUnavailableError, type ClusterState } from './state.js';

export interface ClusterCacheOptions {
  kubeconfig: KubeConfig;
  log: Pick<Logger, 'warn' | 'debug'>;
}

const upm = (resource: string, kind: string): ResourceType => ({
  group: 'upm.io',
  version: 'v1alpha1',
  resource,
  kind,
  namespaced: false,
});

export class ClusterCache implements ClusterState {
  private readonly client: KubeClient;
  private readonly resources: Informer[];
  private readonly templates: Informer;
  private readonly sidecars: Informer;
  private readonly namespaces: Informer;

  constructor(opts: ClusterCacheOptions) {
    this.client = new KubeClient(opts.kubeconfig, 'upm-engine-webhooks');
    const informer = (type: ResourceType) =>
      new Informer(this.client, type, { backoffMs: { initial: 250, max: 10_000 }, log: opts.log });
    this.templates = informer(upm('unittemplates', 'UnitTemplate'));
    this.sidecars = informer(upm('sidecarsets', 'SidecarSet'));
    this.namespaces = informer({
      group: '',
      version: 'v1',
      resource: 'namespaces',
      kind: 'Namespace',
      namespaced: false,
    });
    this.resources = [this.templates, this.sidecars, this.namespaces];
  }

  start(): void {
    for (const r of this.resources) r.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.resources.map((r) => r.stop()));
    this.client.close();
  }

  get synced(): boolean {
    return this.resources.every((r) => r.hasSynced());
  }

  /** Names of the resources that have not listed yet. */
  unsynced(): string[] {
    return this.resources.filter((r) => !r.hasSynced()).map((r) => r.type.resource);
  }

  /** Resolves when every resource has listed once, or rejects after `timeoutMs`. */
  async waitForSync(timeoutMs: number): Promise<void> {
    await Promise.all(this.resources.map((r) => r.waitForSync(timeoutMs))).catch(() => {
      throw new StateUnavailableError(`not synced within ${timeoutMs} ms: ${this.unsynced().join(', ')}`);
    });
  }

  private require(r: Informer): void {
    if (!r.hasSynced()) throw new StateUnavailableError(`the cache of ${r.type.resource} has not synced yet`);
  }

  unitTemplate(name: string): UnitTemplateSpec | undefined {
    this.require(this.templates);
    return this.templates.get(undefined, name)?.['spec'] as UnitTemplateSpec | undefined;
  }

  unitTemplates(): { name: string; spec: UnitTemplateSpec }[] {
    this.require(this.templates);
    return this.templates.list().map((t) => ({ name: t.metadata.name ?? '', spec: t['spec'] as UnitTemplateSpec }));
  }

  sidecarSets(): { name: string; spec: SidecarSetSpec }[] {
    this.require(this.sidecars);
    return this.sidecars.list().map((s) => ({ name: s.metadata.name ?? '', spec: s['spec'] as SidecarSetSpec }));
  }

  namespaceLabels(name: string): Record<string, string> | undefined {
    this.require(this.namespaces);
    const ns = this.namespaces.get(undefined, name);
    return ns ? (ns.metadata.labels ?? {}) : undefined;
  }
}
