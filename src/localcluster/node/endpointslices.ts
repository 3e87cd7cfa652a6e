// The EndpointSlice controller (kube-controller-manager's, staging/src/k8s.io/endpointslice):
// one slice per Service with a selector, holding the address of every selected Pod that has one
// and is not finished, with kube's conditions (serving = the Pod is Ready, terminating = it is
// being deleted, ready = serving and not terminating, or publishNotReadyAddresses). Written within
// a moment of a Pod or Service change.

import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { isAlreadyExists, isConflict, isNotFound } from '../../machinery/errors.js';
import { labelSelectorMatcher } from '../../machinery/labels.js';
import { jsonEqual } from '../../machinery/object.js';
import { loadKubeConfig, type KubeconfigSource } from '../kubeclient/index.js';
import { makeClients, plain, type Clients } from './client.js';
import { Informer } from './informer.js';

type Obj = Record<string, any>;

export const serviceNameLabel = 'kubernetes.io/service-name';
const managedByLabel = 'endpointslice.kubernetes.io/managed-by';
const managedBy = 'endpointslice-controller.k8s.io';

/** The slice a Service's Pods make (without metadata beyond name and labels). */
export function desiredSlice(service: Obj, pods: Obj[]): Obj {
  const meta = service['metadata'];
  const spec = service['spec'] ?? {};
  const selects = labelSelectorMatcher({ matchLabels: spec.selector ?? {} });
  const selected = pods.filter(
    (p) =>
      selects(p['metadata']?.labels ?? {}) &&
      p['status']?.podIP &&
      p['status']?.phase !== 'Succeeded' &&
      p['status']?.phase !== 'Failed',
  );
  const servicePorts = (spec.ports ?? []) as Obj[];
  const ports = servicePorts.map((sp) => {
    const target = sp['targetPort'] ?? sp['port'];
    let port: number | undefined =
      typeof target === 'number' ? target : /^\d+$/.test(String(target)) ? Number(target) : undefined;
    if (port === undefined) {
      for (const p of selected) {
        for (const c of (p['spec']?.containers ?? []) as Obj[]) {
          const named = ((c['ports'] ?? []) as Obj[]).find((x) => x['name'] === target);
          if (named) port = Number(named['containerPort']);
        }
        if (port !== undefined) break;
      }
    }
    return {
      name: sp['name'] ?? '',
      protocol: sp['protocol'] ?? 'TCP',
      ...(port !== undefined ? { port } : {}),
      ...(sp['appProtocol'] ? { appProtocol: sp['appProtocol'] } : {}),
    };
  });
  const endpoints = selected
    .sort((a, b) => String(a['metadata'].name).localeCompare(String(b['metadata'].name)))
    .map((p) => {
      const serving = ((p['status']?.conditions ?? []) as Obj[]).some(
        (c) => c['type'] === 'Ready' && c['status'] === 'True',
      );
      const terminating = !!p['metadata']?.deletionTimestamp;
      const ready = spec.publishNotReadyAddresses ? true : serving && !terminating;
      const hostname =
        p['spec']?.hostname && p['spec']?.subdomain === meta.name ? { hostname: p['spec'].hostname } : {};
      return {
        addresses: [p['status'].podIP],
        conditions: { ready, serving, terminating },
        ...hostname,
        ...(p['spec']?.nodeName ? { nodeName: p['spec'].nodeName } : {}),
        targetRef: {
          kind: 'Pod',
          namespace: p['metadata'].namespace,
          name: p['metadata'].name,
          uid: p['metadata'].uid,
        },
      };
    });
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: `${meta.name}-${String(meta.uid).slice(0, 5)}`,
      namespace: meta.namespace,
      labels: { ...(meta.labels ?? {}), [serviceNameLabel]: meta.name, [managedByLabel]: managedBy },
      ownerReferences: [
        {
          apiVersion: 'v1',
          kind: 'Service',
          name: meta.name,
          uid: meta.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    addressType: 'IPv4',
    endpoints,
    ports,
  };
}

export interface EndpointSliceControllerOptions {
  kubeconfig: KubeconfigSource;
  logger: Logger;
}

export class EndpointSliceController {
  private readonly kc: KubeConfig;
  private readonly clients: Clients;
  private services!: Informer;
  private pods!: Informer;
  private slices!: Informer;
  private readonly dirty = new Set<string>();
  /** What this controller last wrote, until the informer has caught up with it. */
  private readonly written = new Map<string, Obj>();
  private timer: NodeJS.Timeout | undefined;
  private working: Promise<void> | undefined;
  private running = false;

  constructor(private readonly o: EndpointSliceControllerOptions) {
    this.kc = loadKubeConfig(o.kubeconfig);
    this.clients = makeClients(this.kc);
  }

  async start(): Promise<void> {
    this.running = true;
    const core = this.clients.core;
    const byService = (s: Obj) => this.mark(`${s['metadata']?.namespace}/${s['metadata']?.name}`);
    const byPod = (p: Obj) => {
      const ns = p['metadata']?.namespace;
      for (const s of this.services.items(ns)) byService(s);
    };
    this.services = new Informer(
      this.kc,
      '/api/v1/services',
      () => core.listServiceForAllNamespaces(),
      {
        add: byService,
        update: byService,
      },
      { log: this.o.logger },
    );
    this.pods = new Informer(
      this.kc,
      '/api/v1/pods',
      () => core.listPodForAllNamespaces(),
      {
        add: byPod,
        update: byPod,
        delete: byPod,
      },
      { log: this.o.logger },
    );
    this.slices = new Informer(
      this.kc,
      '/apis/discovery.k8s.io/v1/endpointslices',
      () =>
        this.clients.discovery.listEndpointSliceForAllNamespaces({ labelSelector: `${managedByLabel}=${managedBy}` }),
      {},
      { labelSelector: `${managedByLabel}=${managedBy}`, log: this.o.logger },
    );
    await this.services.start();
    await Promise.all([this.pods.start(), this.slices.start()]);
    for (const s of this.services.items()) byService(s);
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    await Promise.all([this.services?.stop(), this.pods?.stop(), this.slices?.stop()]);
    await this.working;
    this.clients.close();
  }

  private mark(key: string): void {
    if (!this.running) return;
    this.dirty.add(key);
    // Changes that arrive together are written together.
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, 20);
  }

  private async flush(): Promise<void> {
    if (this.working) {
      await this.working;
      if (this.dirty.size > 0) return this.flush();
      return;
    }
    this.working = (async () => {
      const keys = [...this.dirty];
      this.dirty.clear();
      for (const key of keys) {
        try {
          await this.sync(key);
        } catch (err) {
          if (!isConflict(err)) this.o.logger.warn({ err, service: key }, 'endpointslice controller: sync failed');
          setTimeout(() => this.mark(key), 500);
        }
      }
    })().finally(() => (this.working = undefined));
    await this.working;
  }

  private async sync(key: string): Promise<void> {
    const [ns, name] = key.split('/');
    const service = this.services.get(ns, name);
    if (!service || !service['spec']?.selector || Object.keys(service['spec'].selector).length === 0) return;
    const want = desiredSlice(service, this.pods.items(ns));
    const cached = this.slices.get(ns, want['metadata'].name);
    const mine = this.written.get(key);
    const current =
      mine && (!cached || Number(mine['metadata']?.resourceVersion) > Number(cached['metadata']?.resourceVersion))
        ? mine
        : cached;
    const api = this.clients.discovery;
    if (!current) {
      try {
        this.written.set(key, plain(await api.createNamespacedEndpointSlice({ namespace: ns, body: want as never })));
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
        this.mark(key);
      }
      return;
    }
    if (
      jsonEqual(current['endpoints'] ?? [], want['endpoints']) &&
      jsonEqual(current['ports'] ?? [], want['ports']) &&
      jsonEqual(current['metadata']?.labels ?? {}, want['metadata'].labels)
    )
      return;
    try {
      const replaced = await api.replaceNamespacedEndpointSlice({
        namespace: ns,
        name: want['metadata'].name,
        body: { ...want, metadata: { ...current['metadata'], labels: want['metadata'].labels } } as never,
      });
      this.written.set(key, plain(replaced));
    } catch (err) {
      this.written.delete(key);
      if (isNotFound(err)) this.mark(key);
      else throw err;
    }
  }
}
