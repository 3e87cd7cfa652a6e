// The Services and the PodDisruptionBudget of a UnitSet, and the per-Unit Service. Ports are those
// of the main container of the UnitTemplate (plus the exporter's on the headless Service).

import type { V1Container, V1PodDisruptionBudget, V1PodSpec, V1Service, V1ServicePort } from '@kubernetes/client-node';
import type { ServiceSettings, Unit, UnitSet, UnitTemplate } from '../../../api/generated/types.js';
import { inServiceLabel, unitLabel, unitSetLabel } from '../../../api/labels.js';
import { clientServiceName, headlessServiceName, podDisruptionBudgetName, unitServiceName } from './names.js';
import { mainContainerName } from './podtemplate.js';
import { resolveMaxUnavailable } from './rollout.js';
import { controllerReference } from './units.js';

/** Service ports for the main container's declared ports (named after them; unnamed ones get <protocol>-<port>). */
export function servicePorts(template: UnitTemplate, withExporter = false): V1ServicePort[] {
  const spec = template.spec.podTemplate.spec as unknown as V1PodSpec;
  const main = spec.containers?.find((c) => c.name === mainContainerName(template));
  const ports: V1ServicePort[] = (main?.ports ?? []).map((p) => {
    const protocol = p.protocol ?? 'TCP';
    return {
      name: p.name ?? `${protocol.toLowerCase()}-${p.containerPort}`,
      port: p.containerPort,
      targetPort: (p.name ?? p.containerPort) as V1ServicePort['targetPort'],
      protocol,
    };
  });
  const exporter = template.spec.exporter;
  if (withExporter && exporter && !ports.some((p) => p.port === exporter.port)) {
    const declared = (exporter.container as unknown as V1Container).ports?.find(
      (p) => p.containerPort === exporter.port,
    );
    ports.push({
      name: declared?.name ?? 'metrics',
      port: exporter.port,
      targetPort: exporter.port as never,
      protocol: 'TCP',
    });
  }
  return ports;
}

function serviceLabels(unitSet: UnitSet): Record<string, string> {
  return { [unitSetLabel]: unitSet.metadata.name! };
}

/**
 * `<name>-headless`: gives every Unit the DNS name `<unit>.<name>-headless.<namespace>.svc`,
 * including Units that are not Ready (replication must find them before they are).
 */
export function headlessService(unitSet: UnitSet, template: UnitTemplate): V1Service {
  const name = unitSet.metadata.name!;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: headlessServiceName(name),
      namespace: unitSet.metadata.namespace,
      labels: serviceLabels(unitSet),
      ownerReferences: [controllerReference({ kind: 'UnitSet', metadata: unitSet.metadata })],
    },
    spec: {
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      selector: { [unitSetLabel]: name },
      ports: servicePorts(template, true),
    },
  };
}

/** `<name>` for clients: every Ready Unit in service. Undefined when services.external.type is None. */
export function clientService(unitSet: UnitSet, template: UnitTemplate): V1Service | undefined {
  const settings = unitSet.spec.services?.external;
  if (!settings?.type || settings.type === 'None') return undefined;
  const name = unitSet.metadata.name!;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: clientServiceName(name),
      namespace: unitSet.metadata.namespace,
      labels: serviceLabels(unitSet),
      ...(settings.annotations ? { annotations: { ...settings.annotations } } : {}),
      ownerReferences: [controllerReference({ kind: 'UnitSet', metadata: unitSet.metadata })],
    },
    spec: {
      type: settings.type,
      selector: { [unitSetLabel]: name, [inServiceLabel]: 'true' },
      ports: servicePorts(template),
    },
  };
}

/**
 * `<unit>`: one Unit alone, for instances reached individually from outside (NodePort,
 * LoadBalancer). Owned by the Unit, so it goes when the Unit goes. Node ports of `existing` are
 * kept so a recreated or updated Service keeps its addresses. Undefined when perUnit.type is None.
 */
export function unitService(
  unit: Unit,
  settings: ServiceSettings | undefined,
  template: UnitTemplate,
  existing?: V1Service,
): V1Service | undefined {
  if (!settings?.type || settings.type === 'None') return undefined;
  const name = unit.metadata.name!;
  const labels: Record<string, string> = { [unitLabel]: name };
  const unitSet = unit.metadata.labels?.[unitSetLabel];
  if (unitSet) labels[unitSetLabel] = unitSet;
  const ports = servicePorts(template).map((p) => {
    const kept = existing?.spec?.ports?.find((e) => e.name === p.name && e.port === p.port)?.nodePort;
    return kept !== undefined && settings.type !== 'ClusterIP' ? { ...p, nodePort: kept } : p;
  });
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: unitServiceName(name),
      namespace: unit.metadata.namespace,
      labels,
      ...(settings.annotations ? { annotations: { ...settings.annotations } } : {}),
      ownerReferences: [controllerReference(unit)],
    },
    spec: {
      type: settings.type,
      publishNotReadyAddresses: true,
      selector: { [unitLabel]: name, [inServiceLabel]: 'true' },
      ports,
    },
  };
}

/** `<name>`: voluntary disruptions (drains) take at most maxUnavailable Units at a time. */
export function podDisruptionBudget(unitSet: UnitSet): V1PodDisruptionBudget {
  const name = unitSet.metadata.name!;
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: {
      name: podDisruptionBudgetName(name),
      namespace: unitSet.metadata.namespace,
      labels: serviceLabels(unitSet),
      ownerReferences: [controllerReference({ kind: 'UnitSet', metadata: unitSet.metadata })],
    },
    spec: {
      maxUnavailable: resolveMaxUnavailable(unitSet) as never,
      selector: { matchLabels: { [unitSetLabel]: name } },
    },
  };
}
