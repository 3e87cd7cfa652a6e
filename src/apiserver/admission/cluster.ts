// What admission reads of the cluster this server is aggregated into (kube-apiserver, or the
// local control plane): Mutating/ValidatingWebhookConfigurations, ValidatingAdmissionPolicies
// and their bindings, Namespaces, and policy params. All are watched (the controller runtime's
// informers: list+watch, restarted with backoff), never polled per request. A kind the cluster
// does not serve (404) counts as an empty list and is looked for again later.

import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { KubeClient, type ResourceType } from '../../controllers/runtime/client.js';
import { Informer } from '../../controllers/runtime/informer.js';
import { isNotFound } from '../../machinery/errors.js';
import type { KubeObject } from '../../machinery/object.js';
import type { ParamKind, ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding } from './policy/types.js';
import type { ParamResolver, PolicySource } from './policy/validator.js';
import type { NamespaceLabelSource, WebhookConfigurationSource } from './chain.js';
import type { MutatingWebhookConfiguration, ValidatingWebhookConfiguration } from './types.js';

const admissionregistration = (resource: string, kind: string): ResourceType => ({
  group: 'admissionregistration.k8s.io',
  version: 'v1',
  resource,
  kind,
  namespaced: false,
});

export interface ClusterAdmissionSourceOptions {
  kubeconfig: KubeConfig;
  log: Pick<Logger, 'warn' | 'debug' | 'info'>;
}

export class ClusterAdmissionSource
  implements WebhookConfigurationSource, NamespaceLabelSource, PolicySource, ParamResolver
{
  private readonly client: KubeClient;
  private readonly mutatingConfigs: Informer;
  private readonly validatingConfigs: Informer;
  private readonly namespaceList: Informer;
  private readonly policyList: Informer;
  private readonly bindingList: Informer;
  /** Params by `apiVersion/kind`, watched from the first policy that names the kind. */
  private readonly paramKinds = new Map<string, Promise<Informer>>();
  private stopped = false;

  constructor(private readonly o: ClusterAdmissionSourceOptions) {
    this.client = new KubeClient(o.kubeconfig, 'upm-engine-admission');
    this.mutatingConfigs = this.informer(
      admissionregistration('mutatingwebhookconfigurations', 'MutatingWebhookConfiguration'),
    );
    this.validatingConfigs = this.informer(
      admissionregistration('validatingwebhookconfigurations', 'ValidatingWebhookConfiguration'),
    );
    this.namespaceList = this.informer({
      group: '',
      version: 'v1',
      resource: 'namespaces',
      kind: 'Namespace',
      namespaced: false,
    });
    this.policyList = this.informer(admissionregistration('validatingadmissionpolicies', 'ValidatingAdmissionPolicy'));
    this.bindingList = this.informer(
      admissionregistration('validatingadmissionpolicybindings', 'ValidatingAdmissionPolicyBinding'),
    );
  }

  private informer(type: ResourceType): Informer {
    return new Informer(this.client, type, {
      backoffMs: { initial: 250, max: 10_000 },
      notServedRetryMs: 30_000,
      log: this.o.log,
    });
  }

  private get all(): Informer[] {
    return [this.mutatingConfigs, this.validatingConfigs, this.namespaceList, this.policyList, this.bindingList];
  }

  start(): void {
    for (const i of this.all) i.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const params = await Promise.allSettled(this.paramKinds.values());
    const paramInformers = params.flatMap((p) => (p.status === 'fulfilled' ? [p.value] : []));
    await Promise.all([...this.all, ...paramInformers].map((i) => i.stop()));
    this.client.close();
  }

  get synced(): boolean {
    return this.all.every((i) => i.hasSynced());
  }

  unsynced(): string[] {
    return this.all.filter((i) => !i.hasSynced()).map((i) => i.type.kind);
  }

  /** Resolves once every collection has listed (or is known not to be served). */
  whenSynced(): Promise<void> {
    return Promise.all(this.all.map((i) => i.whenSynced())).then(() => undefined);
  }

  mutating(): MutatingWebhookConfiguration[] {
    return this.mutatingConfigs.list() as unknown as MutatingWebhookConfiguration[];
  }

  validating(): ValidatingWebhookConfiguration[] {
    return this.validatingConfigs.list() as unknown as ValidatingWebhookConfiguration[];
  }

  namespaceLabels(name: string): Record<string, string> | undefined {
    const ns = this.namespaceList.get(undefined, name);
    return ns ? (ns.metadata.labels ?? {}) : undefined;
  }

  namespaceObject(name: string): KubeObject | undefined {
    return this.namespaceList.get(undefined, name);
  }

  policies(): ValidatingAdmissionPolicy[] {
    return this.policyList.list() as unknown as ValidatingAdmissionPolicy[];
  }

  bindings(): ValidatingAdmissionPolicyBinding[] {
    return this.bindingList.list() as unknown as ValidatingAdmissionPolicyBinding[];
  }

  // ---- params -------------------------------------------------------------------------------

  private async paramWatch(kind: ParamKind): Promise<Informer> {
    const key = `${kind.apiVersion}/${kind.kind}`;
    let informer = this.paramKinds.get(key);
    if (!informer) {
      informer = this.discover(kind).then((type) => {
        const i = this.informer(type);
        // Not started when discovery answered after stop(): nothing would stop it.
        if (!this.stopped) i.start();
        return i;
      });
      this.paramKinds.set(key, informer);
      informer.catch(() => this.paramKinds.delete(key));
    }
    const params = await informer;
    await params.waitForSync(5_000).catch(() => {
      throw new Error(`params of kind ${kind.kind} are not synced yet`);
    });
    return params;
  }

  /** The resource serving `kind`, from the cluster's discovery. */
  private async discover(kind: ParamKind): Promise<ResourceType> {
    const [group, version] = kind.apiVersion.includes('/') ? kind.apiVersion.split('/', 2) : ['', kind.apiVersion];
    const notServed = new Error(`the cluster does not serve ${kind.kind} in ${kind.apiVersion}`);
    const path = group ? `/apis/${group}/${version}` : `/api/${version}`;
    const list = await this.client
      .request<{ resources?: { name: string; kind: string; namespaced: boolean }[] }>('GET', path)
      .catch((err: unknown) => {
        throw isNotFound(err) ? notServed : err;
      });
    const resource = list.resources?.find((r) => r.kind === kind.kind && !r.name.includes('/'));
    if (!resource) throw notServed;
    return {
      group: group!,
      version: version!,
      resource: resource.name,
      kind: kind.kind,
      namespaced: resource.namespaced,
    };
  }

  async namespaced(kind: ParamKind): Promise<boolean> {
    return (await this.paramWatch(kind)).type.namespaced;
  }

  async get(kind: ParamKind, namespace: string, name: string): Promise<KubeObject | undefined> {
    return (await this.paramWatch(kind)).get(namespace || undefined, name);
  }

  async list(
    kind: ParamKind,
    namespace: string,
    selector: (labels: Record<string, string>) => boolean,
  ): Promise<KubeObject[]> {
    return (await this.paramWatch(kind)).list(namespace || undefined).filter((o) => selector(o.metadata.labels ?? {}));
  }
}
