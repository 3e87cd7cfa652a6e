// The parts of a core/v1 PodSpec our kinds must get right before any Pod exists: containers with
// unique DNS-label names and an image, ports in range without clashes, volumes with unique
// names and mounts that name a volume. (kube-apiserver validates the rest when the Pod is created.)

import type { FieldError } from '../../machinery/errors.js';
import { DNS_LABEL } from '../../machinery/schema.js';
import { duplicate, invalid, isPlainRecord, listOf, notFound, required } from './fields.js';

const dnsLabel = new RegExp(DNS_LABEL);
const portName = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export interface ContainerRef {
  name: string;
  field: string;
  container: Record<string, unknown>;
}

/** Containers and init containers of a spec, with their field paths (`<field>.containers[0]`). */
export function containersOf(spec: Record<string, unknown>, field: string): ContainerRef[] {
  const out: ContainerRef[] = [];
  for (const key of ['initContainers', 'containers'] as const) {
    listOf(spec[key]).forEach((c, i) => {
      if (isPlainRecord(c) && typeof c['name'] === 'string')
        out.push({ name: c['name'], field: `${field}.${key}[${i}]`, container: c });
    });
  }
  return out;
}

/** containerPort (and protocol) of every port of the given containers. */
export function portsOf(
  containers: ContainerRef[],
): { port: number; protocol: string; name?: string; field: string }[] {
  const out: { port: number; protocol: string; name?: string; field: string }[] = [];
  for (const c of containers) {
    listOf(c.container['ports']).forEach((p, i) => {
      if (!isPlainRecord(p) || typeof p['containerPort'] !== 'number') return;
      out.push({
        port: p['containerPort'],
        protocol: typeof p['protocol'] === 'string' ? p['protocol'] : 'TCP',
        ...(typeof p['name'] === 'string' ? { name: p['name'] } : {}),
        field: `${c.field}.ports[${i}]`,
      });
    });
  }
  return out;
}

function validateContainer(errs: FieldError[], c: unknown, field: string, names: Map<string, string>): void {
  if (!isPlainRecord(c)) {
    errs.push(invalid(field, c, 'must be an object'));
    return;
  }
  const name = c['name'];
  if (typeof name !== 'string' || name === '') errs.push(required(`${field}.name`));
  else if (!dnsLabel.test(name) || name.length > 63)
    errs.push(
      invalid(
        `${field}.name`,
        name,
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
      ),
    );
  else if (names.has(name)) errs.push(duplicate(`${field}.name`, name));
  else names.set(name, field);
  if (typeof c['image'] !== 'string' || c['image'].trim() === '') errs.push(required(`${field}.image`));
  listOf(c['ports']).forEach((p, i) => {
    const pf = `${field}.ports[${i}]`;
    if (!isPlainRecord(p)) return errs.push(invalid(pf, p, 'must be an object'));
    const port = p['containerPort'];
    if (port === undefined) errs.push(required(`${pf}.containerPort`));
    else if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535)
      errs.push(invalid(`${pf}.containerPort`, port, 'must be between 1 and 65535, inclusive'));
    const pn = p['name'];
    if (pn !== undefined && (typeof pn !== 'string' || pn.length > 15 || !portName.test(pn) || !/[a-z]/.test(pn)))
      errs.push(
        invalid(`${pf}.name`, pn, 'must be no more than 15 characters, lower case alphanumeric or "-", with a letter'),
      );
    const protocol = p['protocol'];
    if (protocol !== undefined && !['TCP', 'UDP', 'SCTP'].includes(protocol as string))
      errs.push({
        type: 'FieldValueNotSupported',
        field: `${pf}.protocol`,
        value: protocol,
        detail: 'supported values: "SCTP", "TCP", "UDP"',
      });
    return undefined;
  });
}

export interface PodSpecOptions {
  /** Volumes that will be added to the Pod by the controller (their mounts are allowed). */
  extraVolumes?: ReadonlySet<string>;
  /** Require at least one container (a Pod's spec; a SidecarSet's lists may be partial). */
  requireContainers?: boolean;
}

/** Field errors of a PodSpec-shaped object at `field` (`spec.podTemplate.spec`). */
export function validatePodSpec(spec: unknown, field: string, opts: PodSpecOptions = {}): FieldError[] {
  const errs: FieldError[] = [];
  if (!isPlainRecord(spec)) {
    errs.push(invalid(field, spec, 'must be an object'));
    return errs;
  }
  for (const key of ['containers', 'initContainers', 'volumes'] as const) {
    if (spec[key] !== undefined && !Array.isArray(spec[key]))
      errs.push(invalid(`${field}.${key}`, spec[key], 'must be a list'));
  }
  const containers = listOf(spec['containers']);
  if (opts.requireContainers !== false && containers.length === 0)
    errs.push(required(`${field}.containers`, 'a Pod needs at least one container'));
  const names = new Map<string, string>();
  listOf(spec['initContainers']).forEach((c, i) => validateContainer(errs, c, `${field}.initContainers[${i}]`, names));
  containers.forEach((c, i) => validateContainer(errs, c, `${field}.containers[${i}]`, names));

  const portNames = new Set<string>();
  const hostPorts = new Set<string>();
  for (const p of portsOf(containersOf(spec, field))) {
    if (p.name !== undefined) {
      if (portNames.has(p.name)) errs.push(duplicate(`${p.field}.name`, p.name));
      portNames.add(p.name);
    }
    const key = `${p.port}/${p.protocol}`;
    if (hostPorts.has(key))
      errs.push(duplicate(`${p.field}.containerPort`, p.port, 'another container of the Pod uses this port'));
    hostPorts.add(key);
  }

  const volumes = new Set<string>();
  listOf(spec['volumes']).forEach((v, i) => {
    const vf = `${field}.volumes[${i}]`;
    if (!isPlainRecord(v) || typeof v['name'] !== 'string' || v['name'] === '')
      return errs.push(required(`${vf}.name`));
    if (volumes.has(v['name'])) errs.push(duplicate(`${vf}.name`, v['name']));
    volumes.add(v['name']);
    return undefined;
  });
  for (const c of containersOf(spec, field)) {
    listOf(c.container['volumeMounts']).forEach((m, i) => {
      if (!isPlainRecord(m) || typeof m['name'] !== 'string') return;
      if (!volumes.has(m['name']) && !opts.extraVolumes?.has(m['name']))
        errs.push(notFound(`${c.field}.volumeMounts[${i}].name`, m['name'], 'no volume of that name in the Pod'));
    });
  }
  return errs;
}
