// The webhooks' view of the cluster: UnitTemplates, SidecarSets and Namespaces kept in memory by
// list+watch (client-node informers), so a review reads memory, not the API. An informer that
// fails (the API server restarts, the upm.io APIService is not available yet) is restarted with
// a growing delay; until each has listed once the state is unavailable, which fails the call
// so that the webhook configuration's failurePolicy decides.

import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  makeInformer,
  type KubernetesListObject,
  type KubernetesObject,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { SidecarSetSpec, UnitTemplateSpec } from '../api/generated/types.js';
import { StateUnavailableError, type ClusterState } from './state.js';

type Informer = ReturnType<typeof makeInformer<KubernetesObject>>;

/** One resource kept in memory by list+watch, restarted after failures. */
class WatchedResource {
  private informer: Informer | undefined;
  private listed = false;
  private stopped = false;
  private retryDelayMs = 250;
  private timer: NodeJS.Timeout | undefined;
  private readonly waiters: (() => void)[] = [];

  constructor(
    readonly name: string,
    private readonly make: () => Informer,
    private readonly log: Pick<Logger, 'warn' | 'debug'>,
    private readonly onChange: () => void,
  ) {}

  get synced(): boolean {
    return this.listed;
  }

  start(): void {
    const informer = this.make();
    this.informer = informer;
    for (const ev of ['add', 'update', 'delete'] as const) informer.on(ev, () => this.onChange());
    informer.on('error', (err) => this.retry(informer, err));
    informer.start().then(
      () => {
        if (this.informer !== informer) return;
        this.listed = true;
        this.retryDelayMs = 250;
        this.onChange();
        for (const w of this.waiters.splice(0)) w();
      },
      (err) => this.retry(informer, err),
    );
  }

  private retry(informer: Informer, err: unknown): void {
    if (this.stopped || this.informer !== informer) return;
    this.log.warn({ resource: this.name, err: (err as Error)?.message ?? String(err) }, 'watch failed; restarting');
    this.informer = undefined;
    void informer.stop().catch(() => {});
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (!this.stopped) this.start();
    }, this.retryDelayMs);
    this.retryDelayMs = Math.min(this.retryDelayMs * 2, 10_000);
  }

  list(): readonly KubernetesObject[] {
    return this.informer?.list() ?? [];
  }

  get(name: string): KubernetesObject | undefined {
    return this.informer?.get(name);
  }

  whenSynced(): Promise<void> {
    return this.listed ? Promise.resolve() : new Promise((r) => this.waiters.push(r));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const informer = this.informer;
    this.informer = undefined;
    await informer?.stop().catch(() => {});
  }
}

export interface ClusterCacheOptions {
  kubeconfig: KubeConfig;
  log: Pick<Logger, 'warn' | 'debug'>;
}

const group = 'upm.io';
const version = 'v1alpha1';

export class ClusterCache implements ClusterState {
  private readonly resources: WatchedResource[];
  private readonly templates: WatchedResource;
  private readonly sidecars: WatchedResource;
  private readonly namespaces: WatchedResource;
  /** Bumped on every change seen, for callers that derive data from the state. */
  generation = 0;

  constructor(opts: ClusterCacheOptions) {
    const kc = opts.kubeconfig;
    const custom = kc.makeApiClient(CustomObjectsApi);
    const core = kc.makeApiClient(CoreV1Api);
    const bump = () => {
      this.generation++;
    };
    const cluster = (plural: string) => () =>
      makeInformer<KubernetesObject>(
        kc,
        `/apis/${group}/${version}/${plural}`,
        () =>
          custom.listClusterCustomObject({ group, version, plural }) as Promise<KubernetesListObject<KubernetesObject>>,
      );
    this.templates = new WatchedResource('unittemplates', cluster('unittemplates'), opts.log, bump);
    this.sidecars = new WatchedResource('sidecarsets', cluster('sidecarsets'), opts.log, bump);
    this.namespaces = new WatchedResource(
      'namespaces',
      () =>
        makeInformer<KubernetesObject>(kc, '/api/v1/namespaces', () =>
          core.listNamespace().then((l) => l as unknown as KubernetesListObject<KubernetesObject>),
        ),
      opts.log,
      bump,
    );
    this.resources = [this.templates, this.sidecars, this.namespaces];
  }

  start(): void {
    for (const r of this.resources) r.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.resources.map((r) => r.stop()));
  }

  get synced(): boolean {
    return this.resources.every((r) => r.synced);
  }

  /** Names of the resources that have not listed yet. */
  unsynced(): string[] {
    return this.resources.filter((r) => !r.synced).map((r) => r.name);
  }

  /** Resolves when every resource has listed once, or rejects after `timeoutMs`. */
  async waitForSync(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.all(this.resources.map((r) => r.whenSynced())),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new StateUnavailableError(`not synced within ${timeoutMs} ms: ${this.unsynced().join(', ')}`)),
            timeoutMs,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  private require(r: WatchedResource): void {
    if (!r.synced) throw new StateUnavailableError(`the cache of ${r.name} has not synced yet`);
  }

  unitTemplate(name: string): UnitTemplateSpec | undefined {
    this.require(this.templates);
    return (this.templates.get(name) as { spec?: UnitTemplateSpec } | undefined)?.spec;
  }

  unitTemplates(): { name: string; spec: UnitTemplateSpec }[] {
    this.require(this.templates);
    return this.templates
      .list()
      .map((t) => ({ name: t.metadata?.name ?? '', spec: (t as { spec: UnitTemplateSpec }).spec }));
  }

  sidecarSets(): { name: string; spec: SidecarSetSpec }[] {
    this.require(this.sidecars);
    return this.sidecars
      .list()
      .map((s) => ({ name: s.metadata?.name ?? '', spec: (s as { spec: SidecarSetSpec }).spec }));
  }

  namespaceLabels(name: string): Record<string, string> | undefined {
    this.require(this.namespaces);
    const ns = this.namespaces.get(name);
    return ns ? (ns.metadata?.labels ?? {}) : undefined;
  }
}
