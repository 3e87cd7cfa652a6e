// A container's environment as the kubelet assembles it (pkg/kubelet/kubelet_pods.go
// makeEnvironmentVariables): envFrom in order, then env[] expanded against what came before, then
// the Service links; and the downward API values of fieldRef and resourceFieldRef.

import { quantityValue } from '../../machinery/quantity.js';
import { envLookup, expand } from './expansion.js';

type Obj = Record<string, any>;

/** A reason the container cannot be created (waiting reason CreateContainerConfigError). */
export class ContainerConfigError extends Error {}

export interface EnvSources {
  configMap(namespace: string, name: string): Obj | undefined;
  secret(namespace: string, name: string): Obj | undefined;
  /** Services of the namespace, for the Service link variables. */
  services(namespace: string): Obj[];
  /** `default/kubernetes`, always linked. */
  masterService(): Obj | undefined;
  /** The node's allocatable resources, for resourceFieldRef without a limit. */
  allocatable: Record<string, string>;
}

export interface EnvVar {
  name: string;
  value: string;
}

/** The value of a fieldRef (downward API); undefined when the path is not one kube supports. */
export function podFieldValue(pod: Obj, fieldPath: string): string | undefined {
  const meta = pod['metadata'] ?? {};
  const status = pod['status'] ?? {};
  const spec = pod['spec'] ?? {};
  const mapKey = /^metadata\.(labels|annotations)\['(.*)'\]$/.exec(fieldPath);
  if (mapKey) return (meta[mapKey[1]] ?? {})[mapKey[2]] ?? '';
  switch (fieldPath) {
    case 'metadata.name':
      return meta.name ?? '';
    case 'metadata.namespace':
      return meta.namespace ?? '';
    case 'metadata.uid':
      return meta.uid ?? '';
    case 'metadata.labels':
      return formatMap(meta.labels ?? {});
    case 'metadata.annotations':
      return formatMap(meta.annotations ?? {});
    case 'spec.nodeName':
      return spec.nodeName ?? '';
    case 'spec.serviceAccountName':
      return spec.serviceAccountName ?? '';
    case 'spec.terminationGracePeriodSeconds':
      return String(spec.terminationGracePeriodSeconds ?? 30);
    case 'status.hostIP':
      return status.hostIP ?? '';
    case 'status.hostIPs':
      return ((status.hostIPs ?? []) as Obj[]).map((i) => i['ip']).join(',');
    case 'status.podIP':
      return status.podIP ?? '';
    case 'status.podIPs':
      return ((status.podIPs ?? []) as Obj[]).map((i) => i['ip']).join(',');
    default:
      return undefined;
  }
}

/** Go's %q for the strings kube writes (ASCII escapes; other text as it is). */
function goQuote(s: string): string {
  return JSON.stringify(s).replace(/\\u007f/g, '\\x7f');
}

/** `key="value"` lines, keys sorted, no trailing newline (pkg/fieldpath FormatMap). */
export function formatMap(map: Record<string, string>): string {
  return Object.keys(map)
    .sort()
    .map((k) => `${k}=${goQuote(String(map[k]))}`)
    .join('\n');
}

/** ceil(quantity / divisor) of a container's request or limit (pkg/api/v1/resource). */
export function resourceFieldValue(
  pod: Obj,
  container: Obj | undefined,
  ref: Obj,
  allocatable: Record<string, string>,
): string {
  const resource = String(ref['resource'] ?? '');
  const target =
    ref['containerName'] !== undefined && ref['containerName'] !== ''
      ? ((pod['spec']?.containers ?? []) as Obj[]).find((c) => c['name'] === ref['containerName'])
      : container;
  if (!target) throw new ContainerConfigError(`container ${ref['containerName']} not found for resourceFieldRef`);
  const [kind, name] = resource.split(/\.(.*)/s) as [string, string];
  if ((kind !== 'limits' && kind !== 'requests') || !name)
    throw new ContainerConfigError(`unsupported container resource: ${resource}`);
  let quantity: string | undefined = target['resources']?.[kind]?.[name];
  if (quantity === undefined && kind === 'limits') quantity = allocatable[name];
  if (quantity === undefined) quantity = kind === 'requests' ? '0' : undefined;
  const divisorText = ref['divisor'] === undefined || ref['divisor'] === '' ? '1' : String(ref['divisor']);
  const value = quantityValue(quantity ?? '0');
  const divisor = quantityValue(divisorText);
  if (!Number.isFinite(value) || !Number.isFinite(divisor) || divisor === 0)
    throw new ContainerConfigError(`invalid quantity for resourceFieldRef ${resource}`);
  // cpu is computed in milli-units, as kube does.
  if (name === 'cpu') return String(Math.ceil(Math.round(value * 1000) / Math.round(divisor * 1000)));
  return String(Math.ceil(value / divisor));
}

function dataOf(obj: Obj): Record<string, string> {
  return (obj['data'] ?? {}) as Record<string, string>;
}

function secretData(obj: Obj): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries((obj['data'] ?? {}) as Record<string, string>))
    out[k] = Buffer.from(v, 'base64').toString('utf8');
  for (const [k, v] of Object.entries((obj['stringData'] ?? {}) as Record<string, string>)) out[k] = v;
  return out;
}

function serviceEnvName(service: string): string {
  return service.toUpperCase().replace(/-/g, '_');
}

/** FOO_SERVICE_HOST, FOO_PORT_6379_TCP, ... for one Service (pkg/kubelet/envvars). */
export function serviceLinkVars(service: Obj): EnvVar[] {
  const spec = service['spec'] ?? {};
  const ip: string | undefined = spec.clusterIP;
  if (!ip || ip === 'None') return [];
  const ports = (spec.ports ?? []) as Obj[];
  if (ports.length === 0) return [];
  const name = serviceEnvName(String(service['metadata']?.name ?? ''));
  const out: EnvVar[] = [
    { name: `${name}_SERVICE_HOST`, value: ip },
    { name: `${name}_SERVICE_PORT`, value: String(ports[0]['port']) },
  ];
  for (const p of ports)
    if (p['name'])
      out.push({ name: `${name}_SERVICE_PORT_${serviceEnvName(String(p['name']))}`, value: String(p['port']) });
  const first = ports[0];
  const proto = String(first['protocol'] ?? 'TCP').toLowerCase();
  out.push({ name: `${name}_PORT`, value: `${proto}://${ip}:${first['port']}` });
  for (const p of ports) {
    const protocol = String(p['protocol'] ?? 'TCP');
    const prefix = `${name}_PORT_${p['port']}_${protocol.toUpperCase()}`;
    out.push(
      { name: prefix, value: `${protocol.toLowerCase()}://${ip}:${p['port']}` },
      { name: `${prefix}_PROTO`, value: protocol.toLowerCase() },
      { name: `${prefix}_PORT`, value: String(p['port']) },
      { name: `${prefix}_ADDR`, value: ip },
    );
  }
  return out;
}

/**
 * The container's environment, in kube's order, after the image's ENV (which the spec
 * overrides). Throws ContainerConfigError for a missing ConfigMap, Secret or key that is not optional.
 */
export function containerEnvironment(
  pod: Obj,
  container: Obj,
  sources: EnvSources,
  imageEnv: Record<string, string> = {},
): EnvVar[] {
  const namespace = String(pod['metadata']?.namespace ?? 'default');
  const defined: EnvVar[] = [];
  for (const from of (container['envFrom'] ?? []) as Obj[]) {
    const prefix = String(from['prefix'] ?? '');
    if (from['configMapRef']) {
      const ref = from['configMapRef'];
      const cm = sources.configMap(namespace, ref.name);
      if (!cm) {
        if (ref.optional) continue;
        throw new ContainerConfigError(`configmap "${ref.name}" not found`);
      }
      for (const [k, v] of Object.entries(dataOf(cm))) defined.push({ name: prefix + k, value: v });
    } else if (from['secretRef']) {
      const ref = from['secretRef'];
      const secret = sources.secret(namespace, ref.name);
      if (!secret) {
        if (ref.optional) continue;
        throw new ContainerConfigError(`secret "${ref.name}" not found`);
      }
      for (const [k, v] of Object.entries(secretData(secret))) defined.push({ name: prefix + k, value: v });
    }
  }
  for (const e of (container['env'] ?? []) as Obj[]) {
    const name = String(e['name']);
    if (e['valueFrom'] === undefined) {
      defined.push({ name, value: expand(String(e['value'] ?? ''), envLookup(defined)) });
      continue;
    }
    const from = e['valueFrom'];
    if (from.fieldRef) {
      const value = podFieldValue(pod, String(from.fieldRef.fieldPath));
      if (value === undefined) throw new ContainerConfigError(`unsupported fieldPath: ${from.fieldRef.fieldPath}`);
      defined.push({ name, value });
    } else if (from.resourceFieldRef) {
      defined.push({ name, value: resourceFieldValue(pod, container, from.resourceFieldRef, sources.allocatable) });
    } else if (from.configMapKeyRef) {
      const ref = from.configMapKeyRef;
      const cm = sources.configMap(namespace, ref.name);
      const value = cm ? dataOf(cm)[ref.key] : undefined;
      if (value === undefined) {
        if (ref.optional) continue;
        throw new ContainerConfigError(
          cm
            ? `couldn't find key ${ref.key} in ConfigMap ${namespace}/${ref.name}`
            : `configmap "${ref.name}" not found`,
        );
      }
      defined.push({ name, value });
    } else if (from.secretKeyRef) {
      const ref = from.secretKeyRef;
      const secret = sources.secret(namespace, ref.name);
      const value = secret ? secretData(secret)[ref.key] : undefined;
      if (value === undefined) {
        if (ref.optional) continue;
        throw new ContainerConfigError(
          secret ? `couldn't find key ${ref.key} in Secret ${namespace}/${ref.name}` : `secret "${ref.name}" not found`,
        );
      }
      defined.push({ name, value });
    }
  }
  const names = new Set(defined.map((e) => e.name));
  const links: EnvVar[] = [];
  if (pod['spec']?.enableServiceLinks !== false) {
    for (const svc of sources.services(namespace)) links.push(...serviceLinkVars(svc));
  }
  const master = sources.masterService();
  if (master) links.push(...serviceLinkVars(master));
  const image = Object.entries(imageEnv).map(([name, value]) => ({ name, value }));
  const result: EnvVar[] = [];
  const seen = new Set<string>();
  // Later definitions win; the spec's over the Service links over the image's ENV.
  for (const e of [...defined].reverse()) {
    if (seen.has(e.name)) continue;
    seen.add(e.name);
    result.unshift(e);
  }
  for (const e of [...links, ...image]) {
    if (names.has(e.name) || seen.has(e.name)) continue;
    seen.add(e.name);
    result.push(e);
  }
  return result;
}
