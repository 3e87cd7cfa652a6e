// What kube-apiserver's registries for these kinds do beyond their schemas: defaulting, status
// set on create, allocation and the validation the local control plane relies on
// (pkg/registry/core/*/strategy.go, pkg/apis/core/v1/defaults.go, pkg/apis/core/validation).

import type { FieldError } from '../../machinery/errors.js';
import { invalid } from '../../machinery/errors.js';
import type { Strategy } from '../../apiserver/registry/strategy.js';
import { validateDNSLabel } from '../../apiserver/registry/metadata-validation.js';
import { deepClone, isPlainObject, jsonEqual, type KubeObject } from '../../machinery/object.js';
import { ServiceAllocators } from './allocators.js';

type Obj = Record<string, unknown>;

function objectAt(parent: Obj, key: string): Obj {
  const v = parent[key];
  if (isPlainObject(v)) return v;
  const created: Obj = {};
  parent[key] = created;
  return created;
}

function listOf(v: unknown): Obj[] {
  return Array.isArray(v) ? v.filter(isPlainObject) : [];
}

function spec(obj: KubeObject): Obj {
  return objectAt(obj, 'spec');
}

// ---- namespaces -------------------------------------------------------------------------------

export const namespaceStrategy: Strategy = {
  prepareForCreate(obj) {
    const s = spec(obj);
    if (!Array.isArray(s['finalizers'])) s['finalizers'] = ['kubernetes'];
    obj['status'] = { phase: 'Active' };
  },
  prepareForUpdate(obj, old) {
    // spec.finalizers changes only through /finalize.
    const oldSpec = isPlainObject(old['spec']) ? old['spec'] : {};
    const s = spec(obj);
    if (oldSpec['finalizers'] === undefined) delete s['finalizers'];
    else s['finalizers'] = deepClone(oldSpec['finalizers']);
  },
  pendingFinalizers(obj) {
    const finalizers = isPlainObject(obj['spec']) ? obj['spec']['finalizers'] : undefined;
    return Array.isArray(finalizers) ? finalizers.filter((f): f is string => typeof f === 'string') : [];
  },
  prepareForDeletion(obj) {
    // pkg/registry/core/namespace/storage: the first delete only starts termination.
    delete obj.metadata.deletionGracePeriodSeconds;
    obj['status'] = { ...(isPlainObject(obj['status']) ? obj['status'] : {}), phase: 'Terminating' };
  },
  deletionPendingMessage:
    'The system is ensuring all content is removed from this namespace.  Upon completion, this namespace will automatically be purged by the system.',
  prepareForFinalize(desired, current) {
    const next = deepClone(current);
    const finalizers = isPlainObject(desired['spec']) ? desired['spec']['finalizers'] : undefined;
    if (Array.isArray(finalizers) && finalizers.length > 0) spec(next)['finalizers'] = deepClone(finalizers);
    else delete spec(next)['finalizers'];
    return next;
  },
  validate(obj) {
    const name = obj.metadata.name;
    return typeof name === 'string' && name
      ? validateDNSLabel(name).map((detail) => ({
          type: 'FieldValueInvalid',
          field: 'metadata.name',
          value: name,
          detail,
        }))
      : [];
  },
};

// ---- pods -------------------------------------------------------------------------------------

const containerDefaults = (c: Obj): void => {
  const image = typeof c['image'] === 'string' ? c['image'] : '';
  if (c['imagePullPolicy'] === undefined && image) {
    const last = image.split('/').pop() ?? '';
    const tag = last.includes('@') ? 'digest' : last.includes(':') ? last.split(':').pop() : 'latest';
    c['imagePullPolicy'] = tag === 'latest' ? 'Always' : 'IfNotPresent';
  }
  c['terminationMessagePath'] ??= '/dev/termination-log';
  c['terminationMessagePolicy'] ??= 'File';
  const resources = objectAt(c, 'resources');
  // Requests default to limits (SetDefaults_Pod).
  if (isPlainObject(resources['limits'])) {
    const requests = objectAt(resources, 'requests');
    for (const [k, v] of Object.entries(resources['limits'])) if (requests[k] === undefined) requests[k] = v;
  }
  for (const p of listOf(c['ports'])) p['protocol'] ??= 'TCP';
};

export function podQOSClass(podSpec: Obj): 'BestEffort' | 'Burstable' | 'Guaranteed' {
  const all = [...listOf(podSpec['containers']), ...listOf(podSpec['initContainers'])];
  let any = false;
  let guaranteed = true;
  for (const c of all) {
    const r = isPlainObject(c['resources']) ? c['resources'] : {};
    const requests = isPlainObject(r['requests']) ? r['requests'] : {};
    const limits = isPlainObject(r['limits']) ? r['limits'] : {};
    for (const res of ['cpu', 'memory']) {
      if (requests[res] !== undefined || limits[res] !== undefined) any = true;
      if (limits[res] === undefined || (requests[res] !== undefined && String(requests[res]) !== String(limits[res])))
        guaranteed = false;
    }
  }
  if (!any) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

function defaultPodSpec(s: Obj): void {
  s['restartPolicy'] ??= 'Always';
  s['terminationGracePeriodSeconds'] ??= 30;
  s['dnsPolicy'] ??= 'ClusterFirst';
  s['securityContext'] ??= {};
  s['schedulerName'] ??= 'default-scheduler';
  s['enableServiceLinks'] ??= true;
  s['priority'] ??= 0;
  s['preemptionPolicy'] ??= 'PreemptLowerPriority';
  // The ServiceAccount admission plugin.
  if (typeof s['serviceAccountName'] !== 'string' || !s['serviceAccountName']) {
    s['serviceAccountName'] =
      typeof s['serviceAccount'] === 'string' && s['serviceAccount'] ? s['serviceAccount'] : 'default';
  }
  s['serviceAccount'] = s['serviceAccountName'];
  for (const c of listOf(s['containers'])) containerDefaults(c);
  for (const c of listOf(s['initContainers'])) containerDefaults(c);
  // The DefaultTolerationSeconds admission plugin.
  const tolerations = Array.isArray(s['tolerations']) ? (s['tolerations'] as unknown[]) : [];
  for (const key of ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable']) {
    const has = tolerations.some(
      (t) =>
        isPlainObject(t) &&
        (t['key'] === key || (t['key'] === undefined && t['operator'] === 'Exists')) &&
        (t['effect'] === undefined || t['effect'] === 'NoExecute'),
    );
    if (!has) tolerations.push({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 });
  }
  s['tolerations'] = tolerations;
}

const podUpdateForbidden =
  'pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)';

export const podStrategy: Strategy = {
  prepareForCreate(obj) {
    const s = spec(obj);
    defaultPodSpec(s);
    obj['status'] = { phase: 'Pending', qosClass: podQOSClass(s) };
  },
  prepareForUpdate(obj) {
    defaultPodSpec(spec(obj));
  },
  validate(obj) {
    const errors: FieldError[] = [];
    const s = isPlainObject(obj['spec']) ? obj['spec'] : {};
    const names = new Set<string>();
    const check = (list: unknown, field: string, required: boolean) => {
      if (!Array.isArray(list) || list.length === 0) {
        if (required) errors.push({ type: 'FieldValueRequired', field, detail: '' });
        return;
      }
      list.forEach((c, i) => {
        if (!isPlainObject(c)) return;
        const name = c['name'];
        if (typeof name !== 'string' || !name)
          errors.push({ type: 'FieldValueRequired', field: `${field}[${i}].name`, detail: '' });
        else {
          for (const detail of validateDNSLabel(name))
            errors.push({ type: 'FieldValueInvalid', field: `${field}[${i}].name`, value: name, detail });
          if (names.has(name))
            errors.push({ type: 'FieldValueDuplicate', field: `${field}[${i}].name`, value: name, detail: '' });
          names.add(name);
        }
        if (typeof c['image'] !== 'string' || !c['image'].trim())
          errors.push({ type: 'FieldValueRequired', field: `${field}[${i}].image`, detail: '' });
      });
    };
    check(s['containers'], 'spec.containers', true);
    check(s['initContainers'], 'spec.initContainers', false);
    const rp = s['restartPolicy'];
    if (rp !== undefined && !['Always', 'OnFailure', 'Never'].includes(rp as string)) {
      errors.push({
        type: 'FieldValueNotSupported',
        field: 'spec.restartPolicy',
        value: rp,
        detail: 'supported values: "Always", "OnFailure", "Never"',
      });
    }
    return errors;
  },
  validateUpdate(obj, old) {
    const next = isPlainObject(obj['spec']) ? deepClone(obj['spec']) : {};
    const prev = isPlainObject(old['spec']) ? old['spec'] : {};
    // Mask the fields a pod update may change, then anything left is a forbidden change.
    for (const key of ['containers', 'initContainers'] as const) {
      const oldList = listOf(prev[key]);
      listOf(next[key]).forEach((c, i) => {
        if (oldList[i] && oldList[i]['name'] === c['name']) c['image'] = oldList[i]['image'];
      });
    }
    for (const key of ['activeDeadlineSeconds', 'tolerations', 'terminationGracePeriodSeconds', 'schedulingGates'])
      next[key] = prev[key];
    // Binding: kube binds through pods/binding, which this server does not serve; setting an
    // empty spec.nodeName once stands in for it (the pod simulator binds this way).
    if (!prev['nodeName']) next['nodeName'] = prev['nodeName'];
    if (jsonEqual(next, prev)) return [];
    return [{ type: 'FieldValueForbidden', field: 'spec', detail: podUpdateForbidden }];
  },
};

// ---- persistentvolumeclaims ---------------------------------------------------------------------

export const persistentVolumeClaimStrategy: Strategy = {
  prepareForCreate(obj) {
    spec(obj)['volumeMode'] ??= 'Filesystem';
    obj['status'] = { phase: 'Pending' };
  },
  prepareForUpdate(obj) {
    spec(obj)['volumeMode'] ??= 'Filesystem';
  },
  validate(obj) {
    const errors: FieldError[] = [];
    const s = isPlainObject(obj['spec']) ? obj['spec'] : {};
    if (!Array.isArray(s['accessModes']) || s['accessModes'].length === 0) {
      errors.push({
        type: 'FieldValueRequired',
        field: 'spec.accessModes',
        detail: 'at least 1 access mode is required',
      });
    }
    const resources = isPlainObject(s['resources']) ? s['resources'] : {};
    const requests = isPlainObject(resources['requests']) ? resources['requests'] : {};
    if (requests['storage'] === undefined)
      errors.push({ type: 'FieldValueRequired', field: 'spec.resources[storage]', detail: '' });
    return errors;
  },
  validateUpdate(obj, old) {
    const next = isPlainObject(obj['spec']) ? deepClone(obj['spec']) : {};
    const prev = isPlainObject(old['spec']) ? old['spec'] : {};
    // Claims may be expanded, bound once and change their VolumeAttributesClass.
    next['resources'] = prev['resources'];
    next['volumeAttributesClassName'] = prev['volumeAttributesClassName'];
    if (!prev['volumeName']) next['volumeName'] = prev['volumeName'];
    if (jsonEqual(next, prev)) return [];
    return [
      {
        type: 'FieldValueForbidden',
        field: 'spec',
        detail:
          'spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims',
      },
    ];
  },
};

// ---- configmaps and secrets ----------------------------------------------------------------------

const configKey = /^[-._a-zA-Z0-9]+$/;
const base64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const maxDataBytes = 1024 * 1024;

function validateKeys(map: unknown, field: string, errors: FieldError[], opts: { base64?: boolean } = {}): number {
  let size = 0;
  if (!isPlainObject(map)) return size;
  for (const [k, v] of Object.entries(map)) {
    if (k.length > 253 || !configKey.test(k) || k === '.' || k === '..' || k.startsWith('..')) {
      errors.push({
        type: 'FieldValueInvalid',
        field,
        value: k,
        detail:
          "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
      });
    }
    if (typeof v !== 'string') continue;
    if (opts.base64) {
      if (!base64.test(v))
        errors.push({
          type: 'FieldValueInvalid',
          field: `${field}[${k}]`,
          value: '<value omitted>',
          detail: 'must be base64 encoded (RFC 4648, section 4)',
        });
      else size += Buffer.from(v, 'base64').length;
    } else size += Buffer.byteLength(v);
  }
  return size;
}

function immutableErrors(obj: KubeObject, old: KubeObject, fields: string[]): FieldError[] {
  if (old['immutable'] !== true) return [];
  const errors: FieldError[] = [];
  for (const f of fields) {
    if (!jsonEqual(obj[f] ?? {}, old[f] ?? {}))
      errors.push({ type: 'FieldValueForbidden', field: f, detail: 'field is immutable when `immutable` is set' });
  }
  if (obj['immutable'] !== true)
    errors.push({
      type: 'FieldValueForbidden',
      field: 'immutable',
      detail: 'field is immutable when `immutable` is set',
    });
  return errors;
}

/** Moves stringData into data (base64), as the Secret conversion does on every write. */
function mergeStringData(obj: KubeObject): void {
  const sd = obj['stringData'];
  if (isPlainObject(sd)) {
    const data = objectAt(obj, 'data');
    for (const [k, v] of Object.entries(sd))
      if (typeof v === 'string') data[k] = Buffer.from(v, 'utf8').toString('base64');
  }
  delete obj['stringData'];
}

const requiredSecretKeys: Record<string, string[]> = {
  'kubernetes.io/tls': ['tls.crt', 'tls.key'],
  'kubernetes.io/dockerconfigjson': ['.dockerconfigjson'],
  'kubernetes.io/dockercfg': ['.dockercfg'],
  'kubernetes.io/ssh-auth': ['ssh-privatekey'],
};

export const secretStrategy: Strategy = {
  prepareForCreate: mergeStringData,
  prepareForUpdate: mergeStringData,
  validate(obj) {
    const errors: FieldError[] = [];
    const size = validateKeys(obj['data'], 'data', errors, { base64: true });
    if (size > maxDataBytes)
      errors.push({ type: 'FieldValueTooLong', field: 'data', detail: `may not be more than ${maxDataBytes} bytes` });
    const type = typeof obj['type'] === 'string' ? obj['type'] : 'Opaque';
    const data = isPlainObject(obj['data']) ? obj['data'] : {};
    for (const key of requiredSecretKeys[type] ?? [])
      if (data[key] === undefined) errors.push({ type: 'FieldValueRequired', field: `data[${key}]`, detail: '' });
    if (
      type === 'kubernetes.io/service-account-token' &&
      !obj.metadata.annotations?.['kubernetes.io/service-account.name']
    ) {
      errors.push({
        type: 'FieldValueRequired',
        field: 'metadata.annotations[kubernetes.io/service-account.name]',
        detail: '',
      });
    }
    return errors;
  },
  validateUpdate(obj, old) {
    const errors: FieldError[] = [];
    if ((obj['type'] ?? 'Opaque') !== (old['type'] ?? 'Opaque'))
      errors.push({ type: 'FieldValueInvalid', field: 'type', value: obj['type'], detail: 'field is immutable' });
    return [...errors, ...immutableErrors(obj, old, ['data'])];
  },
};

export const configMapStrategy: Strategy = {
  validate(obj) {
    const errors: FieldError[] = [];
    let size = validateKeys(obj['data'], 'data', errors);
    size += validateKeys(obj['binaryData'], 'binaryData', errors, { base64: true });
    if (isPlainObject(obj['data']) && isPlainObject(obj['binaryData'])) {
      for (const k of Object.keys(obj['binaryData'])) {
        if (k in obj['data'])
          errors.push({
            type: 'FieldValueInvalid',
            field: 'data',
            value: k,
            detail: 'duplicate of key present in binaryData',
          });
      }
    }
    if (size > maxDataBytes)
      errors.push({
        type: 'FieldValueTooLong',
        field: '',
        detail: `ConfigMap "${obj.metadata.name}" is invalid: []: Too long: must have at most ${maxDataBytes} bytes`,
      });
    return errors;
  },
  validateUpdate(obj, old) {
    return immutableErrors(obj, old, ['data', 'binaryData']);
  },
};

// ---- services ---------------------------------------------------------------------------------

const dns1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** Service defaulting, ClusterIP/NodePort allocation and the immutability of the ClusterIP. */
export class ServiceStrategy implements Strategy {
  /** Errors found while allocating, reported by validate() for the same object. */
  private readonly pending = new WeakMap<KubeObject, FieldError[]>();

  constructor(readonly allocators: ServiceAllocators = new ServiceAllocators()) {}

  prepareForCreate(obj: KubeObject): void {
    this.defaults(obj);
    obj['status'] = { loadBalancer: {} };
    this.allocate(obj, undefined);
  }

  prepareForUpdate(obj: KubeObject, old: KubeObject): void {
    this.defaults(obj);
    const s = spec(obj);
    const o = isPlainObject(old['spec']) ? old['spec'] : {};
    // An update that leaves the allocated address out keeps it (kube's patchAllocatedValues).
    if (s['type'] !== 'ExternalName' && o['type'] !== 'ExternalName') {
      if (!s['clusterIP'] && o['clusterIP']) s['clusterIP'] = o['clusterIP'];
      if ((!Array.isArray(s['clusterIPs']) || s['clusterIPs'].length === 0) && Array.isArray(o['clusterIPs']))
        s['clusterIPs'] = deepClone(o['clusterIPs']);
    }
    this.allocate(obj, old);
  }

  validate(obj: KubeObject): FieldError[] {
    const errors: FieldError[] = [...(this.pending.get(obj) ?? [])];
    const name = obj.metadata.name;
    if (typeof name === 'string' && name && (name.length > 63 || !dns1035.test(name))) {
      errors.push({
        type: 'FieldValueInvalid',
        field: 'metadata.name',
        value: name,
        detail:
          name.length > 63
            ? 'must be no more than 63 characters'
            : "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
      });
    }
    const s = isPlainObject(obj['spec']) ? obj['spec'] : {};
    const type = s['type'];
    if (type === 'ExternalName') {
      if (!s['externalName']) errors.push({ type: 'FieldValueRequired', field: 'spec.externalName', detail: '' });
    } else if (s['clusterIP'] !== 'None' && listOf(s['ports']).length === 0) {
      errors.push({ type: 'FieldValueRequired', field: 'spec.ports', detail: '' });
    }
    const seen = new Set<string>();
    listOf(s['ports']).forEach((p, i) => {
      const port = p['port'];
      if (typeof port !== 'number' || port < 1 || port > 65535) {
        errors.push({
          type: 'FieldValueInvalid',
          field: `spec.ports[${i}].port`,
          value: port ?? null,
          detail: 'must be between 1 and 65535, inclusive',
        });
      }
      const key = `${port}/${p['protocol']}`;
      if (seen.has(key))
        errors.push({
          type: 'FieldValueDuplicate',
          field: `spec.ports[${i}]`,
          value: { port, protocol: p['protocol'] },
          detail: '',
        });
      seen.add(key);
      if (listOf(s['ports']).length > 1 && !p['name'])
        errors.push({ type: 'FieldValueRequired', field: `spec.ports[${i}].name`, detail: '' });
    });
    return errors;
  }

  validateUpdate(obj: KubeObject, old: KubeObject): FieldError[] {
    const s = isPlainObject(obj['spec']) ? obj['spec'] : {};
    const o = isPlainObject(old['spec']) ? old['spec'] : {};
    if (s['type'] === 'ExternalName' || o['type'] === 'ExternalName') return [];
    if (o['clusterIP'] && s['clusterIP'] !== o['clusterIP']) {
      return [
        {
          type: 'FieldValueInvalid',
          field: 'spec.clusterIPs[0]',
          value: s['clusterIP'] ?? '',
          detail: 'may not change once set',
        },
      ];
    }
    return [];
  }

  private defaults(obj: KubeObject): void {
    const s = spec(obj);
    s['type'] ??= 'ClusterIP';
    if (s['type'] !== 'ExternalName') {
      s['sessionAffinity'] ??= 'None';
      s['internalTrafficPolicy'] ??= 'Cluster';
      s['ipFamilyPolicy'] ??= 'SingleStack';
      s['ipFamilies'] ??= ['IPv4'];
      if ((s['type'] === 'NodePort' || s['type'] === 'LoadBalancer') && s['externalTrafficPolicy'] === undefined)
        s['externalTrafficPolicy'] = 'Cluster';
      if (s['type'] === 'LoadBalancer') s['allocateLoadBalancerNodePorts'] ??= true;
    }
    for (const p of listOf(s['ports'])) {
      p['protocol'] ??= 'TCP';
      if (p['targetPort'] === undefined || p['targetPort'] === 0 || p['targetPort'] === '') p['targetPort'] = p['port'];
    }
  }

  private fail(obj: KubeObject, e: FieldError): void {
    const list = this.pending.get(obj) ?? [];
    list.push(e);
    this.pending.set(obj, list);
  }

  private allocate(obj: KubeObject, old: KubeObject | undefined): void {
    const s = spec(obj);
    const owner = `${obj.metadata.namespace ?? ''}/${obj.metadata.name ?? ''}`;
    if (!obj.metadata.name) return; // generateName: allocated once the name is chosen
    const a = this.allocators;
    if (s['type'] === 'ExternalName') {
      delete s['clusterIP'];
      delete s['clusterIPs'];
      a.releaseIPs(owner);
    } else {
      const wanted =
        typeof s['clusterIP'] === 'string' && s['clusterIP']
          ? s['clusterIP']
          : Array.isArray(s['clusterIPs']) && typeof s['clusterIPs'][0] === 'string'
            ? s['clusterIPs'][0]
            : '';
      const before = isPlainObject(old?.['spec']) ? (old!['spec'] as Obj) : undefined;
      if (before && before['type'] !== 'ExternalName' && before['clusterIP'] && wanted !== before['clusterIP']) {
        // A changed address: validateUpdate refuses it; the allocation stays as it is.
      } else if (wanted === 'None') {
        s['clusterIP'] = 'None';
        s['clusterIPs'] = ['None'];
      } else if (wanted) {
        const result = a.claimIP(wanted, owner);
        if (result === 'ok') {
          s['clusterIP'] = wanted;
          s['clusterIPs'] = [wanted];
        } else {
          const detail =
            result === 'taken'
              ? `failed to allocate IP ${wanted}: provided IP is already allocated`
              : `failed to allocate IP ${wanted}: the provided IP (${wanted}) is not in the valid range. The range of valid IPs is ${a.cidr}`;
          this.fail(obj, { type: 'FieldValueInvalid', field: 'spec.clusterIPs', value: [wanted], detail });
        }
      } else {
        const ip = a.allocateIP(owner);
        if (ip === undefined)
          throw invalid('Service', '', obj.metadata.name, [
            {
              type: 'FieldValueInvalid',
              field: 'spec.clusterIPs',
              value: [],
              detail: 'failed to allocate a serviceIP: range is full',
            },
          ]);
        s['clusterIP'] = ip;
        s['clusterIPs'] = [ip];
      }
    }
    this.allocateNodePorts(obj, s, old, owner);
  }

  private allocateNodePorts(obj: KubeObject, s: Obj, old: KubeObject | undefined, owner: string): void {
    const ports = this.allocators.ports;
    const wantsNodePorts =
      s['type'] === 'NodePort' || (s['type'] === 'LoadBalancer' && s['allocateLoadBalancerNodePorts'] !== false);
    const used = new Set<number>();
    if (!wantsNodePorts) {
      for (const p of listOf(s['ports'])) delete p['nodePort'];
      ports.releaseOwner(owner);
      return;
    }
    const oldPorts = listOf(isPlainObject(old?.['spec']) ? (old!['spec'] as Obj)['ports'] : undefined);
    const list = listOf(s['ports']);
    list.forEach((p, i) => {
      let np = p['nodePort'];
      if (np === undefined || np === 0) {
        const prev = oldPorts.find(
          (q) => q['port'] === p['port'] && q['protocol'] === p['protocol'] && typeof q['nodePort'] === 'number',
        );
        if (prev) np = prev['nodePort'];
      }
      if (typeof np === 'number' && np !== 0) {
        if (!ports.contains(np)) {
          this.fail(obj, {
            type: 'FieldValueInvalid',
            field: `spec.ports[${i}].nodePort`,
            value: np,
            detail: `provided port is not in the valid range. The range of valid ports is ${ports.min}-${ports.max}`,
          });
        } else if (used.has(np) || !ports.claim(np, owner)) {
          this.fail(obj, {
            type: 'FieldValueInvalid',
            field: `spec.ports[${i}].nodePort`,
            value: np,
            detail: 'provided port is already allocated',
          });
        } else used.add(np);
        p['nodePort'] = np;
        return;
      }
      const fresh = ports.allocate(owner, used);
      if (fresh === undefined) {
        this.fail(obj, {
          type: 'FieldValueInvalid',
          field: `spec.ports[${i}].nodePort`,
          value: 0,
          detail: 'range is full',
        });
        return;
      }
      used.add(fresh);
      p['nodePort'] = fresh;
    });
    ports.releaseOwner(owner, used);
  }

  /** Resets the allocators to what the given (stored) Services hold. */
  seed(services: KubeObject[]): void {
    this.allocators.seed(
      services.map((svc) => {
        const s = isPlainObject(svc['spec']) ? svc['spec'] : {};
        const ips = Array.isArray(s['clusterIPs'])
          ? s['clusterIPs'].filter((x): x is string => typeof x === 'string')
          : typeof s['clusterIP'] === 'string'
            ? [s['clusterIP']]
            : [];
        return {
          namespace: svc.metadata.namespace ?? '',
          name: svc.metadata.name ?? '',
          clusterIPs: ips.filter((ip) => ip !== 'None'),
          nodePorts: listOf(s['ports'])
            .map((p) => p['nodePort'])
            .filter((n): n is number => typeof n === 'number'),
        };
      }),
    );
  }
}
