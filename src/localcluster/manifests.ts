// What a cluster install of UPM Engine puts into the cluster besides the server itself: the RBAC
// manifests of config/apiservice/ (its ServiceAccount, the roles it needs, and the ClusterRoles
// that fold upm.io into view, edit and admin). The local control plane applies the same files, so
// `kubectl --as alice` behaves as on a cluster. Objects are created, or brought back to the
// manifest when they differ (as kube-apiserver reconciles its bootstrap policy on start).

import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import type { APIRegistry } from '../apiserver/registry/registry.js';
import { isAlreadyExists, isNotFound } from '../machinery/errors.js';
import { groupVersion } from '../machinery/definition.js';
import { isPlainObject, jsonEqual, type KubeObject } from '../machinery/object.js';

/** The cluster-install manifests that are RBAC (the Deployment, Service and APIService are the stand-in's own). */
export const rbacManifests = [
  'serviceaccount.yaml',
  'rbac.yaml',
  'auth-delegator.yaml',
  'auth-reader.yaml',
  'aggregate-roles.yaml',
];

const manifestDir = new URL('../../config/apiservice/', import.meta.url);

/** The objects of config/apiservice/<file>. */
export function readManifest(file: string): KubeObject[] {
  const text = readFileSync(new URL(file, manifestDir), 'utf8');
  return parseAllDocuments(text)
    .map((d) => d.toJSON() as unknown)
    .filter((o): o is KubeObject => isPlainObject(o) && typeof o['kind'] === 'string');
}

/** Whether the stored object says what the manifest says (its fields and labels). */
function matches(current: KubeObject, desired: KubeObject): boolean {
  const have = current.metadata.labels ?? {};
  return (
    Object.entries(desired.metadata.labels ?? {}).every(([k, v]) => have[k] === v) &&
    Object.keys(desired).every((k) => k === 'metadata' || jsonEqual(current[k], desired[k]))
  );
}

/** Creates the objects, or updates them to the manifest; returns the names of those it wrote. */
export async function applyManifests(registry: APIRegistry, objects: KubeObject[]): Promise<string[]> {
  const written: string[] = [];
  for (const obj of objects) {
    const served = registry.resources.find((r) => groupVersion(r.def) === obj.apiVersion && r.def.kind === obj.kind);
    if (!served) throw new Error(`the control plane does not serve ${obj.apiVersion} ${obj.kind}`);
    const namespace = served.def.namespaced ? (obj.metadata.namespace ?? 'default') : '';
    const name = obj.metadata.name!;
    const opts = { fieldManager: 'upm-engine' };
    try {
      await served.store.create(namespace, obj, opts);
      written.push(`${served.def.plural}/${name}`);
      continue;
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
    try {
      const current = await served.store.get(namespace, name);
      if (matches(current, obj)) continue;
      await served.store.guaranteedUpdate(
        namespace,
        name,
        (cur) => ({
          ...cur,
          ...obj,
          metadata: {
            ...cur.metadata,
            labels: { ...(cur.metadata.labels ?? {}), ...(obj.metadata.labels ?? {}) },
            resourceVersion: undefined,
          },
        }),
        opts,
      );
      written.push(`${served.def.plural}/${name}`);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  return written;
}

/** Applies the RBAC of a cluster install (rbacManifests). */
export async function installClusterRBAC(registry: APIRegistry): Promise<string[]> {
  return applyManifests(registry, rbacManifests.flatMap(readManifest));
}
