// kube-apiserver's table printers for the built-in kinds (pkg/printers/internalversion/printers.go):
// computed cells such as READY 1/1, STATUS CrashLoopBackOff, PORT(S) 80/TCP or OBJECT pod/x that a
// CRD-style JSONPath column cannot express. The generic TableConvertor only reads JSONPaths, so
// installCoreTables() swaps these convertors in on a running server's registry.

import type { ResourceDefinition } from '../../machinery/definition.js';
import { humanDuration } from '../../machinery/time.js';
import { isPlainObject, type KubeObject } from '../../machinery/object.js';
import type { APIRegistry } from '../../apiserver/registry/registry.js';
import {
  partialObjectMetadata,
  TableConvertor,
  type IncludeObject,
  type TableColumnDefinition,
  type TableRow,
} from '../../apiserver/registry/table.js';

type Obj = Record<string, unknown>;

export interface ComputedColumn {
  name: string;
  type: string;
  format?: string;
  description: string;
  priority?: number;
  cell(obj: KubeObject, now: number): unknown;
}

/** A TableConvertor whose cells are computed by functions instead of JSONPaths. */
export class ComputedTableConvertor extends TableConvertor {
  override readonly columns: TableColumnDefinition[];

  constructor(
    def: ResourceDefinition,
    private readonly computed: ComputedColumn[],
  ) {
    super(def);
    this.columns = computed.map((c) => ({
      name: c.name,
      type: c.type,
      format: c.format ?? '',
      description: c.description,
      priority: c.priority ?? 0,
    }));
  }

  override row(obj: KubeObject, include: IncludeObject): TableRow {
    const now = Date.now();
    const row: TableRow = { cells: this.computed.map((c) => c.cell(obj, now)) };
    if (include === 'Object') row.object = obj;
    else if (include === 'Metadata') row.object = partialObjectMetadata(obj, 'v1');
    return row;
  }
}

// ---- helpers ----------------------------------------------------------------------------------

const o = (v: unknown): Obj => (isPlainObject(v) ? v : {});
const list = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isPlainObject) : []);
const s = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);

/** translateTimestampSince: `<unknown>` for a missing time. */
export function since(ts: unknown, now: number): string {
  if (typeof ts !== 'string' || !ts) return '<unknown>';
  const t = Date.parse(ts);
  return Number.isNaN(t) ? '<unknown>' : humanDuration(now - t);
}

const nameDescription =
  'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names';
const ageDescription =
  'CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata';

const nameColumn: ComputedColumn = {
  name: 'Name',
  type: 'string',
  format: 'name',
  description: nameDescription,
  cell: (obj) => obj.metadata.name ?? '',
};
const ageColumn: ComputedColumn = {
  name: 'Age',
  type: 'string',
  description: ageDescription,
  cell: (obj, now) => since(obj.metadata.creationTimestamp, now),
};
const col = (
  name: string,
  description: string,
  cell: ComputedColumn['cell'],
  extra: Partial<ComputedColumn> = {},
): ComputedColumn => ({ name, type: 'string', description, cell, ...extra });

function formatLabels(m: unknown): string {
  const entries = Object.entries(o(m)).sort(([a], [b]) => a.localeCompare(b));
  return entries.length === 0 ? '<none>' : entries.map(([k, v]) => `${k}=${String(v)}`).join(',');
}

// ---- pods -------------------------------------------------------------------------------------

/** The cells kubectl shows for a pod: READY, STATUS, RESTARTS (printPod). */
export function podSummary(pod: KubeObject, now: number): { ready: string; status: string; restarts: string } {
  const spec = o(pod['spec']);
  const status = o(pod['status']);
  const initSpecs = list(spec['initContainers']);
  const restartable = new Set(initSpecs.filter((c) => c['restartPolicy'] === 'Always').map((c) => s(c['name'])));
  let restarts = 0;
  let restartableInitRestarts = 0;
  let total = list(spec['containers']).length + restartable.size;
  let ready = 0;
  let lastRestart = 0;
  const phase = s(status['phase']);
  let reason = s(status['reason']) || phase;
  const conditions = list(status['conditions']);
  if (conditions.some((c) => c['type'] === 'PodScheduled' && c['reason'] === 'SchedulingGated'))
    reason = 'SchedulingGated';

  const noteRestart = (c: Obj) => {
    const finished = s(o(o(c['lastState'])['terminated'])['finishedAt']);
    const t = finished ? Date.parse(finished) : NaN;
    if (!Number.isNaN(t) && t > lastRestart) lastRestart = t;
  };

  let initializing = false;
  const initStatuses = list(status['initContainerStatuses']);
  for (let i = 0; i < initStatuses.length; i++) {
    const c = initStatuses[i];
    restarts += num(c['restartCount']);
    noteRestart(c);
    const isRestartable = restartable.has(s(c['name']));
    if (isRestartable) restartableInitRestarts += num(c['restartCount']);
    const state = o(c['state']);
    const terminated = isPlainObject(state['terminated']) ? state['terminated'] : undefined;
    const waiting = isPlainObject(state['waiting']) ? state['waiting'] : undefined;
    if (terminated && num(terminated['exitCode']) === 0) continue;
    if (isRestartable && c['started'] === true) {
      if (c['ready'] === true) ready++;
      continue;
    }
    if (terminated) {
      reason = s(terminated['reason'])
        ? `Init:${s(terminated['reason'])}`
        : num(terminated['signal']) !== 0
          ? `Init:Signal:${num(terminated['signal'])}`
          : `Init:ExitCode:${num(terminated['exitCode'])}`;
    } else if (waiting && s(waiting['reason']) && waiting['reason'] !== 'PodInitializing') {
      reason = `Init:${s(waiting['reason'])}`;
    } else {
      reason = `Init:${i}/${initSpecs.length}`;
    }
    initializing = true;
    break;
  }

  const initializedTrue = conditions.some((c) => c['type'] === 'Initialized' && c['status'] === 'True');
  if (!initializing || initializedTrue) {
    restarts = restartableInitRestarts;
    let hasRunning = false;
    const statuses = list(status['containerStatuses']);
    for (let i = statuses.length - 1; i >= 0; i--) {
      const c = statuses[i];
      restarts += num(c['restartCount']);
      noteRestart(c);
      const state = o(c['state']);
      const waiting = isPlainObject(state['waiting']) ? state['waiting'] : undefined;
      const terminated = isPlainObject(state['terminated']) ? state['terminated'] : undefined;
      if (waiting && s(waiting['reason'])) reason = s(waiting['reason']);
      else if (terminated && s(terminated['reason'])) reason = s(terminated['reason']);
      else if (terminated)
        reason =
          num(terminated['signal']) !== 0
            ? `Signal:${num(terminated['signal'])}`
            : `ExitCode:${num(terminated['exitCode'])}`;
      else if (c['ready'] === true && isPlainObject(state['running'])) {
        hasRunning = true;
        ready++;
      }
    }
    if (reason === 'Completed' && hasRunning) {
      reason = conditions.some((c) => c['type'] === 'Ready' && c['status'] === 'True') ? 'Running' : 'NotReady';
    }
  }

  if (pod.metadata.deletionTimestamp && status['reason'] === 'NodeLost') reason = 'Unknown';
  else if (pod.metadata.deletionTimestamp && phase !== 'Succeeded' && phase !== 'Failed') reason = 'Terminating';

  total = Math.max(total, 0);
  const restartsText =
    restarts !== 0 && lastRestart > 0 ? `${restarts} (${humanDuration(now - lastRestart)} ago)` : String(restarts);
  return { ready: `${ready}/${total}`, status: reason, restarts: restartsText };
}

const podColumns: ComputedColumn[] = [
  nameColumn,
  col(
    'Ready',
    'The aggregate readiness state of this pod for accepting traffic.',
    (p, now) => podSummary(p, now).ready,
  ),
  col('Status', 'The aggregate status of the containers in this pod.', (p, now) => podSummary(p, now).status),
  col(
    'Restarts',
    'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.',
    (p, now) => podSummary(p, now).restarts,
  ),
  ageColumn,
  col(
    'IP',
    'podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.',
    (p) => s(list(o(p['status'])['podIPs'])[0]?.['ip']) || s(o(p['status'])['podIP']) || '<none>',
    { priority: 1 },
  ),
  col(
    'Node',
    'NodeName indicates in which node this pod is scheduled.',
    (p) => s(o(p['spec'])['nodeName']) || '<none>',
    { priority: 1 },
  ),
  col(
    'Nominated Node',
    'nominatedNodeName is set only when this pod preempts other pods on the node.',
    (p) => s(o(p['status'])['nominatedNodeName']) || '<none>',
    { priority: 1 },
  ),
  col(
    'Readiness Gates',
    'If specified, all readiness gates will be evaluated for pod readiness.',
    (p) => {
      const gates = list(o(p['spec'])['readinessGates']);
      if (gates.length === 0) return '<none>';
      const conditions = list(o(p['status'])['conditions']);
      const met = gates.filter((g) =>
        conditions.some((c) => c['type'] === g['conditionType'] && c['status'] === 'True'),
      ).length;
      return `${met}/${gates.length}`;
    },
    { priority: 1 },
  ),
];

// ---- services ---------------------------------------------------------------------------------

function serviceExternalIP(svc: KubeObject): string {
  const spec = o(svc['spec']);
  const external = Array.isArray(spec['externalIPs']) ? (spec['externalIPs'] as unknown[]).map(String) : [];
  switch (spec['type'] ?? 'ClusterIP') {
    case 'ClusterIP':
    case 'NodePort':
      return external.length > 0 ? external.join(',') : '<none>';
    case 'LoadBalancer': {
      const ingress = list(o(o(svc['status'])['loadBalancer'])['ingress'])
        .map((i) => s(i['ip']) || s(i['hostname']))
        .filter(Boolean);
      const all = [...external, ...ingress];
      return all.length > 0 ? all.join(',') : '<pending>';
    }
    case 'ExternalName':
      return s(spec['externalName']);
    default:
      return '<unknown>';
  }
}

function servicePorts(svc: KubeObject): string {
  const ports = list(o(svc['spec'])['ports']);
  if (ports.length === 0) return '<none>';
  return ports
    .map((p) =>
      num(p['nodePort']) > 0
        ? `${num(p['port'])}:${num(p['nodePort'])}/${s(p['protocol'])}`
        : `${num(p['port'])}/${s(p['protocol'])}`,
    )
    .join(',');
}

const serviceColumns: ComputedColumn[] = [
  nameColumn,
  col('Type', 'type determines how the Service is exposed.', (svc) => s(o(svc['spec'])['type'])),
  col(
    'Cluster-IP',
    'clusterIP is the IP address of the service and is usually assigned randomly.',
    (svc) => s(o(svc['spec'])['clusterIP']) || '<none>',
  ),
  col(
    'External-IP',
    'externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.',
    serviceExternalIP,
  ),
  col('Port(s)', 'The list of ports that are exposed by this service.', servicePorts),
  ageColumn,
  col(
    'Selector',
    'Route service traffic to pods with label keys and values matching this selector.',
    (svc) => formatLabels(o(svc['spec'])['selector']),
    { priority: 1 },
  ),
];

// ---- events -----------------------------------------------------------------------------------

function eventCells(ev: KubeObject, now: number) {
  let first = since(ev['firstTimestamp'], now);
  if (!ev['firstTimestamp']) first = since(ev['eventTime'], now);
  let last = ev['lastTimestamp'] ? since(ev['lastTimestamp'], now) : first;
  let count = num(ev['count']);
  const series = isPlainObject(ev['series']) ? ev['series'] : undefined;
  if (series) {
    last = since(series['lastObservedTime'], now);
    count = num(series['count']);
  } else if (count === 0) count = 1;
  const involved = o(ev['involvedObject']);
  const kind = s(involved['kind']).toLowerCase();
  const target = s(involved['name']) ? `${kind}/${s(involved['name'])}` : kind;
  const source = o(ev['source']);
  const component = s(source['component']) || s(ev['reportingComponent']);
  const instance = s(source['host']) || s(ev['reportingInstance']);
  return { first, last, count, target, source: instance ? `${component}, ${instance}` : component };
}

const eventColumns: ComputedColumn[] = [
  col(
    'Last Seen',
    'The time at which the most recent occurrence of this event was recorded.',
    (e, now) => eventCells(e, now).last,
  ),
  col('Type', 'Type of this event (Normal, Warning), new types could be added in the future', (e) => s(e['type'])),
  col(
    'Reason',
    "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
    (e) => s(e['reason']),
  ),
  col('Object', 'The object that this event is about.', (e, now) => eventCells(e, now).target),
  col(
    'Subobject',
    'If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement.',
    (e) => s(o(e['involvedObject'])['fieldPath']),
    { priority: 1 },
  ),
  col(
    'Source',
    'The component reporting this event. Should be a short machine understandable string.',
    (e, now) => eventCells(e, now).source,
    { priority: 1 },
  ),
  col('Message', 'A human-readable description of the status of this operation.', (e) => s(e['message']).trim()),
  col(
    'First Seen',
    'The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)',
    (e, now) => eventCells(e, now).first,
    { priority: 1 },
  ),
  col('Count', 'The number of times this event has occurred.', (e, now) => eventCells(e, now).count, { priority: 1 }),
  col('Name', nameDescription, (e) => e.metadata.name ?? '', { priority: 1 }),
];

// ---- nodes ------------------------------------------------------------------------------------

function nodeStatus(node: KubeObject): string {
  const ready = list(o(node['status'])['conditions']).find((c) => c['type'] === 'Ready');
  const parts = [!ready ? 'Unknown' : ready['status'] === 'True' ? 'Ready' : 'NotReady'];
  if (o(node['spec'])['unschedulable'] === true) parts.push('SchedulingDisabled');
  return parts.join(',');
}

function nodeRoles(node: KubeObject): string {
  const roles = new Set<string>();
  for (const [k, v] of Object.entries(node.metadata.labels ?? {})) {
    if (k.startsWith('node-role.kubernetes.io/') && k.length > 'node-role.kubernetes.io/'.length)
      roles.add(k.slice('node-role.kubernetes.io/'.length));
    else if (k === 'kubernetes.io/role' && v) roles.add(v);
  }
  return roles.size === 0 ? '<none>' : [...roles].sort().join(',');
}

const nodeAddress = (node: KubeObject, type: string) =>
  s(list(o(node['status'])['addresses']).find((a) => a['type'] === type)?.['address']) || '<none>';
const nodeInfo = (node: KubeObject, key: string) => s(o(o(node['status'])['nodeInfo'])[key]);

const nodeColumns: ComputedColumn[] = [
  nameColumn,
  col('Status', 'The status of the node', nodeStatus),
  col('Roles', 'The roles of the node', nodeRoles),
  ageColumn,
  col('Version', 'Kubelet Version reported by the node.', (n) => nodeInfo(n, 'kubeletVersion')),
  col('Internal-IP', 'List of addresses reachable to the node.', (n) => nodeAddress(n, 'InternalIP'), { priority: 1 }),
  col('External-IP', 'List of addresses reachable to the node.', (n) => nodeAddress(n, 'ExternalIP'), { priority: 1 }),
  col(
    'OS-Image',
    'OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).',
    (n) => nodeInfo(n, 'osImage') || '<unknown>',
    { priority: 1 },
  ),
  col(
    'Kernel-Version',
    "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
    (n) => nodeInfo(n, 'kernelVersion') || '<unknown>',
    { priority: 1 },
  ),
  col(
    'Container-Runtime',
    'ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).',
    (n) => nodeInfo(n, 'containerRuntimeVersion') || '<unknown>',
    { priority: 1 },
  ),
];

// ---- persistentvolumeclaims ---------------------------------------------------------------------

const accessModeShort: Record<string, string> = {
  ReadWriteOnce: 'RWO',
  ReadOnlyMany: 'ROX',
  ReadWriteMany: 'RWX',
  ReadWriteOncePod: 'RWOP',
};

function pvcCells(pvc: KubeObject) {
  const spec = o(pvc['spec']);
  const status = o(pvc['status']);
  let phase = s(status['phase']);
  if (pvc.metadata.deletionTimestamp) phase = 'Terminating';
  let capacity = '';
  let modes = '';
  if (s(spec['volumeName'])) {
    const order = ['ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOncePod'];
    const have = Array.isArray(status['accessModes']) ? (status['accessModes'] as unknown[]).map(String) : [];
    modes = order
      .filter((m) => have.includes(m))
      .map((m) => accessModeShort[m])
      .join(',');
    const storage = o(status['capacity'])['storage'];
    capacity = storage === undefined ? '0' : String(storage);
  }
  const storageClass =
    s(spec['storageClassName']) || s(pvc.metadata.annotations?.['volume.beta.kubernetes.io/storage-class']);
  return { phase, capacity, modes, storageClass };
}

const pvcColumns: ComputedColumn[] = [
  nameColumn,
  col('Status', 'phase represents the current phase of PersistentVolumeClaim.', (p) => pvcCells(p).phase),
  col('Volume', 'volumeName is the binding reference to the PersistentVolume backing this claim.', (p) =>
    s(o(p['spec'])['volumeName']),
  ),
  col('Capacity', 'capacity represents the actual resources of the underlying volume.', (p) => pvcCells(p).capacity),
  col(
    'Access Modes',
    'accessModes contains the actual access modes the volume backing the PVC has.',
    (p) => pvcCells(p).modes,
  ),
  col(
    'StorageClass',
    'storageClassName is the name of the StorageClass required by the claim.',
    (p) => pvcCells(p).storageClass,
  ),
  col(
    'VolumeAttributesClass',
    'volumeAttributesClassName may be used to set the VolumeAttributesClass used by this claim.',
    (p) => s(o(p['spec'])['volumeAttributesClassName']) || '<unset>',
  ),
  ageColumn,
  col(
    'VolumeMode',
    'volumeMode defines what type of volume is required by the claim.',
    (p) => s(o(p['spec'])['volumeMode']) || '<unset>',
    { priority: 1 },
  ),
];

// ---- the rest ---------------------------------------------------------------------------------

const namespaceColumns: ComputedColumn[] = [
  nameColumn,
  col('Status', 'The status of the namespace', (ns) => s(o(ns['status'])['phase'])),
  ageColumn,
];

const countOf = (v: unknown) => (isPlainObject(v) ? Object.keys(v).length : Array.isArray(v) ? v.length : 0);

const secretColumns: ComputedColumn[] = [
  nameColumn,
  col('Type', 'The type of the secret', (x) => s(x['type'])),
  col('Data', 'The number of entries in the secret', (x) => countOf(x['data'])),
  ageColumn,
];

const configMapColumns: ComputedColumn[] = [
  nameColumn,
  col('Data', 'The number of entries in the configmap', (x) => countOf(x['data']) + countOf(x['binaryData'])),
  ageColumn,
];

const serviceAccountColumns: ComputedColumn[] = [
  nameColumn,
  col(
    'Secrets',
    'Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.',
    (x) => countOf(x['secrets']),
  ),
  ageColumn,
];

const leaseColumns: ComputedColumn[] = [
  nameColumn,
  col('Holder', 'holderIdentity contains the identity of the holder of a current lease.', (x) =>
    s(o(x['spec'])['holderIdentity']),
  ),
  ageColumn,
];

const webhookColumns: ComputedColumn[] = [
  nameColumn,
  col('Webhooks', 'Webhooks indicates the number of webhooks the configuration has.', (x) => countOf(x['webhooks']), {
    type: 'integer',
  }),
  ageColumn,
];

const createdAtColumns: ComputedColumn[] = [
  nameColumn,
  col(
    'Created At',
    'CreationTimestamp is a timestamp representing the server time when this object was created.',
    (x) => x.metadata.creationTimestamp ?? null,
    { type: 'date' },
  ),
];

const subjectNames = (b: KubeObject, kind: string) =>
  list(b['subjects'])
    .filter((x) => x['kind'] === kind)
    .map((x) => (kind === 'ServiceAccount' ? `${s(x['namespace'])}:${s(x['name'])}` : s(x['name'])))
    .join(', ');

const bindingColumns: ComputedColumn[] = [
  nameColumn,
  col(
    'Role',
    'RoleRef references the role the binding grants.',
    (b) => `${s(o(b['roleRef'])['kind'])}/${s(o(b['roleRef'])['name'])}`,
  ),
  ageColumn,
  col('Users', 'Users in the binding', (b) => subjectNames(b, 'User'), { priority: 1 }),
  col('Groups', 'Groups in the binding', (b) => subjectNames(b, 'Group'), { priority: 1 }),
  col('ServiceAccounts', 'ServiceAccounts in the binding', (b) => subjectNames(b, 'ServiceAccount'), { priority: 1 }),
];

const apiServiceColumns: ComputedColumn[] = [
  nameColumn,
  col('Service', 'The reference to the service that hosts this API endpoint.', (x) => {
    const svc = o(o(x['spec'])['service']);
    return s(svc['name']) ? `${s(svc['namespace'])}/${s(svc['name'])}` : 'Local';
  }),
  col('Available', 'Whether this service is available.', (x) => {
    const c = list(o(x['status'])['conditions']).find((c) => c['type'] === 'Available');
    if (!c) return 'Unknown';
    return c['status'] === 'True' ? 'True' : `${s(c['status'])} (${s(c['reason'])})`;
  }),
  ageColumn,
];

/** Computed columns by `group/plural` (`/pods` for the core group). */
export const coreTableColumns: Record<string, ComputedColumn[]> = {
  '/namespaces': namespaceColumns,
  '/pods': podColumns,
  '/persistentvolumeclaims': pvcColumns,
  '/configmaps': configMapColumns,
  '/secrets': secretColumns,
  '/services': serviceColumns,
  '/serviceaccounts': serviceAccountColumns,
  '/events': eventColumns,
  '/nodes': nodeColumns,
  'coordination.k8s.io/leases': leaseColumns,
  'admissionregistration.k8s.io/mutatingwebhookconfigurations': webhookColumns,
  'admissionregistration.k8s.io/validatingwebhookconfigurations': webhookColumns,
  'rbac.authorization.k8s.io/roles': createdAtColumns,
  'rbac.authorization.k8s.io/clusterroles': createdAtColumns,
  'rbac.authorization.k8s.io/rolebindings': bindingColumns,
  'rbac.authorization.k8s.io/clusterrolebindings': bindingColumns,
  'apiregistration.k8s.io/apiservices': apiServiceColumns,
};

/** Replaces the JSONPath table convertors of the served built-in kinds with kube's printers. */
export function installCoreTables(registry: APIRegistry): void {
  for (const served of registry.resources) {
    const columns = coreTableColumns[`${served.def.group}/${served.def.plural}`];
    if (columns && served.def.version === 'v1') served.table = new ComputedTableConvertor(served.def, columns);
  }
}
