// What admission reads of the cluster this server is aggregated into (kube-apiserver, or the
// local control plane): Mutating/ValidatingWebhookConfigurations, ValidatingAdmissionPolicies
// and their bindings, Namespaces, and policy params. All are watched (list+watch informers of
// @kubernetes/client-node), never polled per request; a failed watch is restarted with backoff.
// A kind the cluster does not serve (404) counts as an empty list and is looked for again later.

import {
  KubeConfig,
  KubernetesObjectApi,
  makeInformer,
  type KubernetesListObject,
  type KubernetesObject,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { isNotFound } from '../../machinery/errors.js';
import type { KubeObject } from '../../machinery/object.js';
import type { ParamKind, ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding } from './policy/types.js';
import type { ParamResolver, PolicySource } from './policy/validator.js';
import type { NamespaceLabelSource, WebhookConfigurationSource } from './chain.js';
import type { MutatingWebhookConfiguration, ValidatingWebhookConfiguration } from './types.js';

type Informer = ReturnType<typeof makeInformer<KubernetesObject>>;

/** One collection kept in memory, restarted after failures; 404 means "not served": empty. */
class Watched {
  private informer: Informer | undefined;
  private listed = false;
  private notServed = false;
  private stopped = false;
  private delay = 250;
  private timer: NodeJS.Timeout | undefined;
  private readonly waiters: (() => void)[] = [];

  constructor(
    readonly name: string,
    private readonly kc: KubeConfig,
    private readonly path: string,
    private readonly list: () => Promise<KubernetesListObject<KubernetesObject>>,
    private readonly log: Pick<Logger, 'warn' | 'debug'>,
  ) {}

  get synced(): boolean {
    return this.listed;
  }

  start(): void {
    const informer = makeInformer<KubernetesObject>(this.kc, this.path, this.list);
    this.informer = informer;
    informer.on('error', (err) => this.retry(informer, err));
    informer.start().then(
      () => {
        if (this.informer !== informer) return;
        this.notServed = false;
        this.markListed();
      },
      (err) => this.retry(informer, err),
    );
  }

  private markListed(): void {
    this.listed = true;
    this.delay = 250;
    for (const w of this.waiters.splice(0)) w();
  }

  private retry(informer: Informer, err: unknown): void {
    if (this.stopped || this.informer !== informer) return;
    this.informer = undefined;
    void informer.stop().catch(() => {});
    let delay = this.delay;
    if (isNotFound(err)) {
      // The cluster does not serve this kind (yet): nothing to apply; look again in a while.
      if (!this.notServed) this.log.debug({ resource: this.name }, 'not served by the cluster; treated as empty');
      this.notServed = true;
      this.markListed();
      delay = 30_000;
    } else {
      this.log.warn(
        { resource: this.name, err: (err as Error)?.message ?? String(err) },
        'admission watch failed; restarting',
      );
      this.delay = Math.min(this.delay * 2, 10_000);
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (!this.stopped) this.start();
    }, delay);
  }

  items(): KubeObject[] {
    if (this.notServed) return [];
    return (this.informer?.list() ?? []) as unknown as KubeObject[];
  }

  get(name: string, namespace?: string): KubeObject | undefined {
    if (this.notServed) return undefined;
    return this.informer?.get(name, namespace) as unknown as KubeObject | undefined;
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

export interface ClusterAdmissionSourceOptions {
  kubeconfig: KubeConfig;
  log: Pick<Logger, 'warn' | 'debug' | 'info'>;
}

export class ClusterAdmissionSource
  implements WebhookConfigurationSource, NamespaceLabelSource, PolicySource, ParamResolver
{
  private readonly objects: KubernetesObjectApi;
  private readonly mutatingConfigs: Watched;
  private readonly validatingConfigs: Watched;
  private readonly namespaceList: Watched;
  private readonly policyList: Watched;
  private readonly bindingList: Watched;
  /** Params by `apiVersion/kind`, watched from the first policy that names the kind. */
  private readonly paramKinds = new Map<string, { watched: Watched; namespaced: boolean }>();
  private readonly pendingParams = new Map<string, Promise<{ watched: Watched; namespaced: boolean }>>();

  constructor(private readonly o: ClusterAdmissionSourceOptions) {
    const kc = o.kubeconfig;
    this.objects = KubernetesObjectApi.makeApiClient(kc);
    const watched = (apiVersion: string, kind: string, path: string) =>
      new Watched(kind, kc, path, () => this.objects.list(apiVersion, kind), o.log);
    const ar = 'admissionregistration.k8s.io/v1';
    this.mutatingConfigs = watched(ar, 'MutatingWebhookConfiguration', `/apis/${ar}/mutatingwebhookconfigurations`);
    this.validatingConfigs = watched(
      ar,
      'ValidatingWebhookConfiguration',
      `/apis/${ar}/validatingwebhookconfigurations`,
    );
    this.namespaceList = watched('v1', 'Namespace', '/api/v1/namespaces');
    this.policyList = watched(ar, 'ValidatingAdmissionPolicy', `/apis/${ar}/validatingadmissionpolicies`);
    this.bindingList = watched(ar, 'ValidatingAdmissionPolicyBinding', `/apis/${ar}/validatingadmissionpolicybindings`);
  }

  private get all(): Watched[] {
    return [this.mutatingConfigs, this.validatingConfigs, this.namespaceList, this.policyList, this.bindingList];
  }

  start(): void {
    for (const w of this.all) w.start();
  }

  async stop(): Promise<void> {
    await Promise.all([...this.all, ...[...this.paramKinds.values()].map((p) => p.watched)].map((w) => w.stop()));
  }

  get synced(): boolean {
    return this.all.every((w) => w.synced);
  }

  unsynced(): string[] {
    return this.all.filter((w) => !w.synced).map((w) => w.name);
  }

  /** Resolves once every collection has listed (or is known not to be served). */
  whenSynced(): Promise<void> {
    return Promise.all(this.all.map((w) => w.whenSynced())).then(() => undefined);
  }

  mutating(): MutatingWebhookConfiguration[] {
    return this.mutatingConfigs.items() as unknown as MutatingWebhookConfiguration[];
  }

  validating(): ValidatingWebhookConfiguration[] {
    return this.validatingConfigs.items() as unknown as ValidatingWebhookConfiguration[];
  }

  namespaceLabels(name: string): Record<string, string> | undefined {
    const ns = this.namespaceList.get(name);
    return ns ? (ns.metadata.labels ?? {}) : undefined;
  }

  namespaceObject(name: string): KubeObject | undefined {
    return this.namespaceList.get(name);
  }

  policies(): ValidatingAdmissionPolicy[] {
    return this.policyList.items() as unknown as ValidatingAdmissionPolicy[];
  }

  bindings(): ValidatingAdmissionPolicyBinding[] {
    return this.bindingList.items() as unknown as ValidatingAdmissionPolicyBinding[];
  }

  // ---- params -------------------------------------------------------------------------------

  private async paramWatch(kind: ParamKind): Promise<{ watched: Watched; namespaced: boolean }> {
    const key = `${kind.apiVersion}/${kind.kind}`;
    const known = this.paramKinds.get(key);
    if (known) return known;
    let pending = this.pendingParams.get(key);
    if (!pending) {
      pending = (async () => {
        const resource = await (
          this.objects as unknown as {
            resource(a: string, k: string): Promise<{ name: string; namespaced: boolean } | undefined>;
          }
        ).resource(kind.apiVersion, kind.kind);
        if (!resource) throw new Error(`the cluster does not serve ${kind.kind} in ${kind.apiVersion}`);
        const base = kind.apiVersion.includes('/') ? `/apis/${kind.apiVersion}` : `/api/${kind.apiVersion}`;
        const watched = new Watched(
          key,
          this.o.kubeconfig,
          `${base}/${resource.name}`,
          () => this.objects.list(kind.apiVersion, kind.kind),
          this.o.log,
        );
        watched.start();
        const entry = { watched, namespaced: resource.namespaced };
        this.paramKinds.set(key, entry);
        return entry;
      })();
      this.pendingParams.set(key, pending);
      pending.catch(() => this.pendingParams.delete(key));
    }
    const entry = await pending;
    await withTimeout(entry.watched.whenSynced(), 5_000, `params of kind ${kind.kind} are not synced yet`);
    return entry;
  }

  async namespaced(kind: ParamKind): Promise<boolean> {
    return (await this.paramWatch(kind)).namespaced;
  }

  async get(kind: ParamKind, namespace: string, name: string): Promise<KubeObject | undefined> {
    return (await this.paramWatch(kind)).watched.get(name, namespace || undefined);
  }

  async list(
    kind: ParamKind,
    namespace: string,
    selector: (labels: Record<string, string>) => boolean,
  ): Promise<KubeObject[]> {
    return (await this.paramWatch(kind)).watched
      .items()
      .filter((o) => (!namespace || o.metadata.namespace === namespace) && selector(o.metadata.labels ?? {}));
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
