// Unit: one instance of a service (one Pod, its PersistentVolumeClaims and its rendered
// configuration), normally owned by a UnitSet.

import {
  accessModesSchema,
  ageColumn,
  conditions,
  defineUpmResource,
  named,
  observedGeneration,
  podTemplate,
  readyReasonColumn,
  resourceRequirements,
} from './common.js';
import {
  bool,
  dnsLabel,
  dnsSubdomain,
  enumStr,
  int32,
  listAtomic,
  listMap,
  listSet,
  object,
  quantity,
  str,
  stringMap,
} from '../machinery/schema.js';

const volumeClaimTemplate = named(
  'UnitVolumeClaimTemplate',
  object(
    'A PersistentVolumeClaim of the Unit, named <unit>-<name>. The Pod template refers to it through a volume of the same ' +
      'name whose persistentVolumeClaim.claimName the controller fills in.',
    {
      name: dnsLabel('Name of the volume (for example data or log).'),
      size: quantity('Requested capacity. Raising it expands the claim when its StorageClass allows expansion.'),
      storageClassName: str('StorageClass of the claim; the cluster default when omitted. Cannot be changed.', {
        maxLength: 253,
      }),
      accessModes: accessModesSchema,
    },
    { required: ['name', 'size'] },
  ),
);

const unitSpec = named(
  'UnitSpec',
  object(
    'Desired state of a Unit.',
    {
      unitTemplate: dnsSubdomain(
        'Name of the UnitTemplate the Unit was rendered from. Its configuration files and parameter definitions are used ' +
          'to render and apply spec.config.',
      ),
      mainContainer: dnsLabel(
        'Name of the container in podTemplate that runs the service process; resources and the process lifecycle apply ' +
          "to it. When omitted, the container named after the UnitTemplate's spec.type.",
      ),
      podTemplate: podTemplate(
        'The Pod of the Unit, named like the Unit. A change that cannot be applied in place recreates the Pod (the ' +
          'service is stopped gracefully first); volumes are kept.',
      ),
      resources: resourceRequirements(
        'Compute resources of the main container, taking precedence over those in podTemplate. Resized in place when ' +
          'the node supports it, otherwise the Pod is recreated.',
      ),
      pinnedNode: str(
        "Node every Pod of the Unit must run on (a kubernetes.io/hostname requirement ANDed with the Pod's node " +
          'affinity), so that a recreated Pod finds data kept on that node. For Units of a UnitSet with ' +
          'scheduling.pinToNode (the default) the controller records here the node the first Pod ran on. Remove it to ' +
          'let the next Pod of the Unit go elsewhere, for example after the node is lost for good; a Pod waiting for ' +
          'the old node is then replaced.',
        { maxLength: 253 },
      ),
      volumeClaimTemplates: listMap('Persistent volumes of the Unit.', ['name'], volumeClaimTemplate, { maxItems: 16 }),
      volumeClaimRetentionPolicy: enumStr(
        'What happens to the claims when the Unit is deleted. Retain keeps them (a Unit re-created with the same name ' +
          'reuses them); Delete removes them. The owning UnitSet sets it from its retention policy.',
        ['Retain', 'Delete'],
        { default: 'Retain' },
      ),
      config: named(
        'UnitConfig',
        object(
          'Configuration of the service of this Unit.',
          {
            parameters: stringMap(
              'Parameter values keyed by parameter name of the UnitTemplate, as text. Parameters not listed take the ' +
                'template defaults. Dynamic parameters are applied online; the others need a restart (see ' +
                'status.config.pendingRestart).',
              { maxProperties: 512 },
            ),
          },
          { default: {} },
        ),
      ),
      startup: bool(
        'Whether the service process runs. false stops it gracefully and keeps the Pod and its volumes (for maintenance ' +
          'such as offline repair or restore); true starts it again after the configuration is rendered.',
        { default: true },
      ),
      unservice: bool(
        'Takes the Unit out of service: its Pod is removed from the Services of the UnitSet and of the replication ' +
          'objects, while the process keeps running.',
        { default: false },
      ),
      failedPodRecovery: named(
        'UnitFailedPodRecovery',
        object(
          'Recreation of a Pod that ended in phase Failed or Succeeded (for example evicted).',
          {
            enabled: bool('Whether such a Pod is deleted and created again.', { default: true }),
            delaySeconds: int32('How long the Pod must have stayed Failed or Succeeded before it is recreated.', {
              minimum: 0,
              default: 60,
            }),
          },
          { default: {} },
        ),
      ),
    },
    { required: ['unitTemplate', 'podTemplate'] },
  ),
);

const volumeStatus = named(
  'UnitVolumeStatus',
  object(
    'State of one PersistentVolumeClaim of the Unit.',
    {
      name: str('Name of the volume claim template.'),
      claimName: str('Name of the PersistentVolumeClaim.'),
      volumeName: str('Name of the PersistentVolume bound to the claim.'),
      phase: enumStr('Phase of the claim.', ['Pending', 'Bound', 'Lost']),
      capacity: quantity('Actual capacity of the bound volume.'),
      storageClassName: str('StorageClass of the claim.'),
      accessModes: listAtomic('Access modes of the bound volume.', { type: 'string' }),
      resizing: bool('True while an expansion of the claim is in progress.'),
    },
    { required: ['name'] },
  ),
);

const unitStatus = named(
  'UnitStatus',
  object('Observed state of a Unit.', {
    observedGeneration: observedGeneration('the Unit'),
    ready: bool('Whether the Pod is Ready and the service process running (condition Ready is True).'),
    address: str(
      'Stable DNS name of the Unit (<unit>.<unitset>-headless.<namespace>.svc) that replication objects connect to.',
    ),
    nodeName: str('Node the Pod runs on.'),
    hostIP: str('IP address of that node.'),
    podIP: str('Primary IP address of the Pod.'),
    podIPs: listAtomic('All IP addresses of the Pod (IPv4 and IPv6).', { type: 'string' }, { maxItems: 2 }),
    processState: enumStr('State of the service process as reported by the process supervisor in the Pod.', [
      'Stopped',
      'Starting',
      'Running',
      'Backoff',
      'Stopping',
      'Exited',
      'Fatal',
      'Unknown',
    ]),
    role: str(
      'Replication role of the instance (for example primary, replica), written by the controller of the replication ' +
        'object that manages the Unit. Used to update replicas before the primary.',
    ),
    volumes: listMap('State of the PersistentVolumeClaims.', ['name'], volumeStatus, { maxItems: 16 }),
    config: named(
      'UnitConfigStatus',
      object('State of the rendered configuration.', {
        revision: str('Hash of the configuration files currently written in the Pod.'),
        pendingRestart: listSet(
          'Parameters whose new value is written but takes effect only after the process restarts.',
          { type: 'string' },
          { maxItems: 512 },
        ),
      }),
    ),
    restarts: int32('Number of times the service process or the Pod was restarted by the controller.', { minimum: 0 }),
    conditions: conditions({
      Ready:
        'True when the Pod is Ready and the process Running (reasons PodPending, ProcessStopped, Unserviced, ...).',
      AgentReady: 'Whether the unit agent in the Pod answers.',
      ProcessRunning: 'Whether the service process runs (False with spec.startup false has reason Stopped).',
      ConfigSynced:
        'Whether the configuration files match spec.config (reason RestartRequired when only a restart is missing).',
      VolumesReady: 'Whether every claim is Bound with the requested capacity (reasons Pending, Resizing, Lost).',
    }),
  }),
);

export const unitDefinition = defineUpmResource({
  kind: 'Unit',
  shortNames: ['un'],
  namespaced: true,
  description:
    'Unit is one instance of a service: a Pod named like the Unit, its PersistentVolumeClaims and its rendered ' +
    'configuration. Units are normally created and updated by a UnitSet; the Unit controller creates the claims and the ' +
    'Pod, renders the configuration, starts and stops the service process and reports its state.',
  schemaDescription: 'Unit is one instance of a service.',
  spec: unitSpec,
  status: unitStatus,
  printerColumns: [
    { name: 'Ready', jsonPath: '.status.ready' },
    { name: 'Process', jsonPath: '.status.processState' },
    { name: 'Role', jsonPath: '.status.role' },
    { name: 'Node', jsonPath: '.status.nodeName' },
    { name: 'IP', jsonPath: '.status.podIP', priority: 1 },
    { name: 'Template', jsonPath: '.spec.unitTemplate', priority: 1 },
    readyReasonColumn,
    ageColumn,
  ],
  selectableFields: ['spec.unitTemplate', 'status.nodeName'],
});
