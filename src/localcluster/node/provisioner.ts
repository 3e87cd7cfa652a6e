// A local volume provisioner and the PersistentVolume controller's binding, in the way
// rancher/local-path-provisioner and kube's PV controller do it: the StorageClass `local-path`
// (the default class, WaitForFirstConsumer, reclaim Delete, expansion allowed), a directory
// `<root>/pvc-<claim uid>_<namespace>_<claim>` per claim once its first Pod is scheduled (the
// claim's `volume.kubernetes.io/selected-node` annotation), a hostPath PersistentVolume bound to the
// claim both ways, the reclaim policy applied when the claim goes away, and expansion recorded
// (capacity is not enforced).

import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { isAlreadyExists, isConflict, isNotFound } from '../../machinery/errors.js';
import { quantityValue } from '../../machinery/quantity.js';
import { formatTime } from '../../machinery/time.js';
import { loadKubeConfig, type KubeconfigSource } from '../kubeclient/index.js';
import { makeClients, mergePatch, type Clients } from './client.js';
import { EventRecorder } from './events.js';
import { Informer } from './informer.js';

type Obj = Record<string, any>;

export const localStorageClass = 'local-path';
export const localProvisioner = 'upm.io/local-path';
const defaultClassAnnotation = 'storageclass.kubernetes.io/is-default-class';
const selectedNode = 'volume.kubernetes.io/selected-node';
const pvcProtection = 'kubernetes.io/pvc-protection';

export interface LocalProvisionerOptions {
  kubeconfig: KubeconfigSource;
  /** Where the volumes' directories are made. */
  root: string;
  logger: Logger;
}

export class LocalProvisioner {
  private readonly kc: KubeConfig;
  private readonly clients: Clients;
  private readonly events: EventRecorder;
  private claims!: Informer;
  private volumes!: Informer;
  private classes!: Informer;
  private pods!: Informer;
  private queued = false;
  private working: Promise<void> | undefined;
  private running = false;

  constructor(private readonly o: LocalProvisionerOptions) {
    this.kc = loadKubeConfig(o.kubeconfig);
    this.clients = makeClients(this.kc);
    this.events = new EventRecorder(this.clients.core, { component: 'persistentvolume-controller' }, o.logger);
  }

  async start(): Promise<void> {
    this.running = true;
    await this.ensureClass();
    const core = this.clients.core;
    const poke = { add: () => this.poke(), update: () => this.poke(), delete: () => this.poke() };
    this.claims = new Informer(
      this.kc,
      '/api/v1/persistentvolumeclaims',
      () => core.listPersistentVolumeClaimForAllNamespaces(),
      poke,
      {
        log: this.o.logger,
      },
    );
    this.volumes = new Informer(this.kc, '/api/v1/persistentvolumes', () => core.listPersistentVolume(), poke, {
      log: this.o.logger,
    });
    this.classes = new Informer(
      this.kc,
      '/apis/storage.k8s.io/v1/storageclasses',
      () => this.clients.storage.listStorageClass(),
      poke,
      { log: this.o.logger },
    );
    this.pods = new Informer(this.kc, '/api/v1/pods', () => core.listPodForAllNamespaces(), poke, {
      log: this.o.logger,
    });
    await Promise.all([this.claims.start(), this.volumes.start(), this.classes.start(), this.pods.start()]);
    this.poke();
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all([this.claims?.stop(), this.volumes?.stop(), this.classes?.stop(), this.pods?.stop()]);
    await this.working;
    await this.events.flush();
    this.clients.close();
  }

  private async ensureClass(): Promise<void> {
    try {
      await this.clients.storage.createStorageClass({
        body: {
          apiVersion: 'storage.k8s.io/v1',
          kind: 'StorageClass',
          metadata: { name: localStorageClass, annotations: { [defaultClassAnnotation]: 'true' } },
          provisioner: localProvisioner,
          reclaimPolicy: 'Delete',
          volumeBindingMode: 'WaitForFirstConsumer',
          allowVolumeExpansion: true,
        } as never,
      });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
  }

  private poke(): void {
    if (!this.running) return;
    if (this.working) {
      this.queued = true;
      return;
    }
    this.working = (async () => {
      do {
        this.queued = false;
        try {
          await this.reconcile();
        } catch (err) {
          if (!isConflict(err)) this.o.logger.warn({ err }, 'local provisioner: reconcile failed');
          setTimeout(() => this.poke(), 1000);
        }
      } while (this.queued && this.running);
    })().finally(() => (this.working = undefined));
  }

  private classOf(pvc: Obj): Obj | undefined {
    const name = pvc['spec']?.storageClassName;
    const classes = this.classes.items();
    if (name === '') return undefined;
    if (name === undefined || name === null)
      return classes.find((c) => c['metadata']?.annotations?.[defaultClassAnnotation] === 'true');
    return classes.find((c) => c['metadata']?.name === name);
  }

  private async reconcile(): Promise<void> {
    const volumes = this.volumes.items();
    for (const pvc of this.claims.items()) {
      const sc = this.classOf(pvc);
      if (!sc || sc['provisioner'] !== localProvisioner) continue;
      if (pvc['metadata']?.deletionTimestamp) {
        await this.protect(pvc);
        continue;
      }
      const bound = volumes.find((pv) => pv['spec']?.claimRef?.uid === pvc['metadata']?.uid);
      if (bound) {
        await this.completeBinding(pvc, bound);
        await this.expand(pvc, bound, sc);
        continue;
      }
      if (sc['volumeBindingMode'] === 'WaitForFirstConsumer' && !pvc['metadata']?.annotations?.[selectedNode]) {
        this.noteWaiting(pvc);
        continue;
      }
      await this.provision(pvc, sc);
    }
    // Volumes whose claim is gone: the reclaim policy.
    for (const pv of volumes) {
      if (pv['metadata']?.annotations?.['pv.kubernetes.io/provisioned-by'] !== localProvisioner) continue;
      const ref = pv['spec']?.claimRef;
      if (!ref) continue;
      const claim = this.claims.get(ref.namespace, ref.name);
      if (claim && claim['metadata']?.uid === ref.uid) continue;
      await this.reclaim(pv);
    }
  }

  private readonly waiting = new Set<string>();

  private noteWaiting(pvc: Obj): void {
    const uid = String(pvc['metadata']?.uid);
    if (this.waiting.has(uid)) return;
    this.waiting.add(uid);
    this.events.record(
      { ...pvc, kind: 'PersistentVolumeClaim' },
      'Normal',
      'WaitForFirstConsumer',
      'waiting for first consumer to be created before binding',
    );
  }

  private async provision(pvc: Obj, sc: Obj): Promise<void> {
    const meta = pvc['metadata'];
    const name = `pvc-${meta.uid}`;
    const dir = join(this.o.root, `${name}_${meta.namespace}_${meta.name}`);
    const claim = { ...pvc, kind: 'PersistentVolumeClaim' };
    this.events.record(
      claim,
      'Normal',
      'Provisioning',
      `External provisioner is provisioning volume for claim "${meta.namespace}/${meta.name}"`,
    );
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o777);
    const node = meta.annotations?.[selectedNode];
    const storage = pvc['spec']?.resources?.requests?.storage ?? '1Gi';
    try {
      await this.clients.core.createPersistentVolume({
        body: {
          apiVersion: 'v1',
          kind: 'PersistentVolume',
          metadata: {
            name,
            annotations: {
              'pv.kubernetes.io/provisioned-by': localProvisioner,
              ...(node ? { 'local.path.provisioner/selected-node': node } : {}),
            },
            finalizers: ['kubernetes.io/pv-protection'],
          },
          spec: {
            capacity: { storage },
            accessModes: pvc['spec']?.accessModes ?? ['ReadWriteOnce'],
            hostPath: { path: dir, type: 'DirectoryOrCreate' },
            claimRef: {
              apiVersion: 'v1',
              kind: 'PersistentVolumeClaim',
              namespace: meta.namespace,
              name: meta.name,
              uid: meta.uid,
              resourceVersion: meta.resourceVersion,
            },
            persistentVolumeReclaimPolicy: sc['reclaimPolicy'] ?? 'Delete',
            storageClassName: sc['metadata'].name,
            volumeMode: pvc['spec']?.volumeMode ?? 'Filesystem',
            ...(node
              ? {
                  nodeAffinity: {
                    required: {
                      nodeSelectorTerms: [
                        { matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [node] }] },
                      ],
                    },
                  },
                }
              : {}),
          },
        } as never,
      });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
    this.events.record(claim, 'Normal', 'ProvisioningSucceeded', `Successfully provisioned volume ${name}`);
  }

  /** Both halves of the binding, as the PV controller writes them. */
  private async completeBinding(pvc: Obj, pv: Obj): Promise<void> {
    const pvName = String(pv['metadata'].name);
    if (pv['status']?.phase !== 'Bound') {
      await this.clients.core.patchPersistentVolumeStatus(
        { name: pvName, body: { status: { phase: 'Bound', lastPhaseTransitionTime: formatTime() } } },
        mergePatch(),
      );
    }
    const meta = pvc['metadata'];
    if (pvc['spec']?.volumeName !== pvName) {
      await this.clients.core.patchNamespacedPersistentVolumeClaim(
        {
          namespace: meta.namespace,
          name: meta.name,
          body: {
            metadata: {
              annotations: { 'pv.kubernetes.io/bind-completed': 'yes', 'pv.kubernetes.io/bound-by-controller': 'yes' },
              finalizers: [...new Set([...((meta.finalizers ?? []) as string[]), pvcProtection])],
            },
            spec: { volumeName: pvName },
          },
        },
        mergePatch(),
      );
    }
    if (pvc['status']?.phase !== 'Bound') {
      await this.clients.core.patchNamespacedPersistentVolumeClaimStatus(
        {
          namespace: meta.namespace,
          name: meta.name,
          body: {
            status: {
              phase: 'Bound',
              accessModes: pv['spec']?.accessModes,
              capacity: pv['spec']?.capacity,
            },
          },
        },
        mergePatch(),
      );
    }
  }

  /** A larger request on a class that allows expansion: recorded on the volume and the claim. */
  private async expand(pvc: Obj, pv: Obj, sc: Obj): Promise<void> {
    const requested = pvc['spec']?.resources?.requests?.storage;
    const current = pvc['status']?.capacity?.storage;
    if (!requested || !current || pvc['status']?.phase !== 'Bound') return;
    if (!(quantityValue(requested) > quantityValue(current))) return;
    const meta = pvc['metadata'];
    const claim = { ...pvc, kind: 'PersistentVolumeClaim' };
    if (!sc['allowVolumeExpansion']) {
      this.events.record(
        claim,
        'Warning',
        'ExternalExpanding',
        `storage class ${sc['metadata'].name} does not allow volume expansion`,
      );
      return;
    }
    await this.clients.core.patchPersistentVolume(
      { name: pv['metadata'].name, body: { spec: { capacity: { storage: requested } } } },
      mergePatch(),
    );
    await this.clients.core.patchNamespacedPersistentVolumeClaimStatus(
      {
        namespace: meta.namespace,
        name: meta.name,
        body: {
          status: { capacity: { storage: requested }, allocatedResources: { storage: requested }, conditions: null },
        },
      },
      mergePatch(),
    );
    this.events.record(
      claim,
      'Normal',
      'FileSystemResizeSuccessful',
      `MountVolume.NodeExpandVolume succeeded for volume "${pv['metadata'].name}" (capacity is not enforced on this machine)`,
    );
  }

  private async reclaim(pv: Obj): Promise<void> {
    const name = String(pv['metadata'].name);
    const policy = pv['spec']?.persistentVolumeReclaimPolicy ?? 'Delete';
    if (policy === 'Delete') {
      const path = pv['spec']?.hostPath?.path;
      if (path && String(path).startsWith(this.o.root)) rmSync(path, { recursive: true, force: true });
      try {
        await this.clients.core.patchPersistentVolume({ name, body: { metadata: { finalizers: null } } }, mergePatch());
        await this.clients.core.deletePersistentVolume({ name });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      return;
    }
    if (pv['status']?.phase !== 'Released') {
      await this.clients.core.patchPersistentVolumeStatus(
        { name, body: { status: { phase: 'Released', lastPhaseTransitionTime: formatTime() } } },
        mergePatch(),
      );
    }
  }

  /** kube's pvc-protection: a claim being deleted keeps its finalizer while a Pod uses it. */
  private async protect(pvc: Obj): Promise<void> {
    const meta = pvc['metadata'];
    const finalizers = (meta.finalizers ?? []) as string[];
    if (!finalizers.includes(pvcProtection)) return;
    const inUse = this.pods
      .items(meta.namespace)
      .some(
        (p) =>
          p['status']?.phase !== 'Succeeded' &&
          p['status']?.phase !== 'Failed' &&
          ((p['spec']?.volumes ?? []) as Obj[]).some((v) => v['persistentVolumeClaim']?.claimName === meta.name),
      );
    if (inUse) return;
    const rest = finalizers.filter((f) => f !== pvcProtection);
    await this.clients.core.patchNamespacedPersistentVolumeClaim(
      {
        namespace: meta.namespace,
        name: meta.name,
        body: { metadata: { resourceVersion: meta.resourceVersion, finalizers: rest.length ? rest : null } },
      },
      mergePatch(),
    );
  }
}
