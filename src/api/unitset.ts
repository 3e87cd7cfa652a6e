// UnitSet: a group of identical database instances (Units) of one service type, edition and
// version, built from a UnitTemplate.

import type { JSONSchema } from '../machinery/definition.js';
import {
  accessModesSchema,
  ageColumn,
  conditions,
  defineUpmResource,
  credentialsSecretSchema,
  envVars,
  named,
  observedGeneration,
  readyReasonColumn,
  resourceRequirements,
  SERVICE_TYPES,
  tolerations,
  withDescription,
} from './common.js';
import {
  bool,
  DNS_SUBDOMAIN,
  dnsLabel,
  dnsSubdomain,
  enumStr,
  int32,
  intOrString,
  listAtomic,
  listMap,
  listSet,
  object,
  quantity,
  str,
  stringMap,
} from '../machinery/schema.js';
import type { UnitSetSpec } from './generated/types.js';

export const UNITSET_DEFAULT_EDITION = 'community';

/**
 * The UnitTemplate a UnitSet uses when spec.template is omitted: `<type>-<edition>-<version>`,
 * with edition defaulting to `community`. The strategy of the UnitSet registry writes it into
 * spec.template on create and when type, edition or version change.
 */
export function defaultUnitTemplateName(spec: Pick<UnitSetSpec, 'type' | 'edition' | 'version'>): string {
  return `${spec.type}-${spec.edition ?? UNITSET_DEFAULT_EDITION}-${spec.version}`;
}

const storageVolume = named(
  'UnitSetStorageVolume',
  object(
    'Size and class of one persistent volume of every Unit. Each Unit gets its own PersistentVolumeClaim ' +
      '<unit>-<name>.',
    {
      name: dnsLabel(
        'Name of the volume, one of the volumes the UnitTemplate declares in spec.volumes (for example data or log).',
      ),
      size: quantity('Requested capacity, for example 20Gi. It may grow (the claims are expanded) but never shrink.'),
      storageClassName: str(
        'StorageClass of the claims. When omitted, the cluster default StorageClass is used. Cannot be changed once the ' +
          'claims exist.',
        { maxLength: 253 },
      ),
      accessModes: accessModesSchema,
    },
    { required: ['name'] },
  ),
);

const retentionMode = (when: string): JSONSchema =>
  enumStr(`${when} Retain keeps the claims and their data; Delete removes them.`, ['Retain', 'Delete'], {
    default: 'Retain',
  });

const storage = named(
  'UnitSetStorage',
  object(
    'Persistent storage of the Units. Volumes the UnitTemplate declares but that are not listed here get the ' +
      "template's default size and the cluster default StorageClass.",
    {
      volumes: listMap('Per-volume size and class, overriding the UnitTemplate defaults.', ['name'], storageVolume, {
        maxItems: 16,
      }),
      persistentVolumeClaimRetentionPolicy: named(
        'PersistentVolumeClaimRetentionPolicy',
        object(
          'What happens to the PersistentVolumeClaims of a Unit when the Unit goes away, as for a StatefulSet.',
          {
            whenDeleted: retentionMode('Applies when the UnitSet is deleted.'),
            whenScaled: retentionMode(
              'Applies when spec.units is lowered and the Units with the highest ordinals are removed.',
            ),
          },
          { default: {} },
        ),
      ),
    },
    { default: {} },
  ),
);

const updateStrategy = named(
  'UnitSetUpdateStrategy',
  object(
    'How changes to the Unit template (version, resources, configuration needing a restart, ...) reach existing Units. ' +
      'Each change produces a new revision (status.updateRevision).',
    {
      type: enumStr(
        'RollingUpdate: Units are updated one group at a time, each waiting for the previous ones to be Ready again. ' +
          'OnDelete: a Unit is updated only when it is deleted by hand.',
        ['RollingUpdate', 'OnDelete'],
        { default: 'RollingUpdate' },
      ),
      rollingUpdate: named(
        'UnitSetRollingUpdate',
        object(
          'Parameters of the RollingUpdate strategy.',
          {
            partition: int32(
              'Only Units with an ordinal greater than or equal to partition are updated; the others keep the current ' +
                'revision. Lower it step by step for a canary rollout.',
              { minimum: 0, default: 0 },
            ),
            maxUnavailable: intOrString(
              'Maximum number of Units that may be unavailable (being updated or not Ready) during the update: a number ' +
                'or a percentage of spec.units such as 25% (rounded down, at least 1).',
              { pattern: '^(0|[1-9][0-9]*)%?$', default: 1 },
            ),
            order: enumStr(
              'Order in which Units are updated. ReplicasFirst: Units whose status.role is primary are updated last, ' +
                'other Units by descending ordinal (the replication controller switches the primary over before its ' +
                'Unit is updated). Ordinal: strictly by descending ordinal.',
              ['ReplicasFirst', 'Ordinal'],
              { default: 'ReplicasFirst' },
            ),
          },
          { default: {} },
        ),
      ),
    },
    { default: {} },
  ),
);

const scheduling = named(
  'UnitSetScheduling',
  object(
    'Where the Units run. These settings are merged into the affinity of the UnitTemplate Pod template (they never ' +
      'replace it).',
    {
      podAntiAffinity: enumStr(
        'Spreading of the Units over topologyKey domains. Preferred: the scheduler tries to put Units in distinct ' +
          'domains (soft). Required: Units are never put in the same domain (hard; a Unit stays Pending when no domain ' +
          'is left). None: no spreading.',
        ['None', 'Preferred', 'Required'],
        { default: 'Preferred' },
      ),
      topologyKey: str('Node label defining the domains for podAntiAffinity.', {
        default: 'kubernetes.io/hostname',
        minLength: 1,
        maxLength: 317,
      }),
      nodeAffinity: listAtomic(
        'Node requirements every Unit must satisfy, ANDed with each other and with the node affinity of the template.',
        named(
          'NodeSelectorRequirement',
          object(
            'A node label key, an operator and values.',
            {
              key: str('The node label key.', { minLength: 1, maxLength: 317 }),
              operator: enumStr('How the key relates to the values.', [
                'In',
                'NotIn',
                'Exists',
                'DoesNotExist',
                'Gt',
                'Lt',
              ]),
              values: listAtomic(
                'Values for In and NotIn (non-empty), a single integer for Gt and Lt, empty for Exists and DoesNotExist.',
                { type: 'string', maxLength: 63 },
                { maxItems: 256 },
              ),
            },
            { required: ['key', 'operator'] },
          ),
        ),
        { maxItems: 32 },
      ),
      pinToNode: bool(
        'After the Pod of a Unit first runs on a node, keep the Unit on that node (the Unit controller records it in the ' +
          "Unit's spec.pinnedNode): a recreated Pod returns to the data it left there. False lets every new Pod go " +
          'wherever the scheduler puts it.',
        { default: true },
      ),
      tolerations: tolerations('Tolerations added to the Pods of the Units.'),
      priorityClassName: str('PriorityClass of the Pods of the Units.', { maxLength: 253 }),
    },
    { default: {} },
  ),
);

const serviceSettings = named(
  'ServiceSettings',
  object(
    'Type and annotations of a Service the controller manages.',
    {
      type: enumStr('Type of the Service(s). None: no Service.', ['None', ...SERVICE_TYPES], { default: 'None' }),
      annotations: stringMap('Annotations of the Service(s), for example load-balancer settings of a cloud provider.'),
    },
    { default: {} },
  ),
);

const services = named(
  'UnitSetServices',
  object(
    'Services of the UnitSet. A headless Service <name>-headless (publishing not-ready addresses) always exists and ' +
      'gives each Unit the stable DNS name <unit>.<name>-headless.<namespace>.svc. Ports are those of the main container.',
    {
      external: withDescription(serviceSettings, 'A Service <name> selecting every Unit, for clients.'),
      perUnit: withDescription(
        serviceSettings,
        'One Service <unit> per Unit selecting only that Unit, for instances that must be reached individually from ' +
          'outside the cluster (NodePort or LoadBalancer). Node ports are kept when a Service is recreated.',
      ),
    },
    { default: {} },
  ),
);

const credential = named(
  'UnitSetCredential',
  object(
    'The Secret holding one account the UnitTemplate needs.',
    {
      name: dnsLabel(
        'Name of the account, one of the credentials the UnitTemplate declares (for example admin, monitor, replication).',
      ),
      secretRef: withDescription(
        credentialsSecretSchema,
        'The Secret holding the user name and the password of the account.',
      ),
    },
    { required: ['name', 'secretRef'] },
  ),
);

const config = named(
  'UnitSetConfig',
  object(
    'Configuration of the service, on top of the defaults of the UnitTemplate.',
    {
      parameters: stringMap(
        'Parameter values keyed by the parameter name of the UnitTemplate (spec.parameters[].name), as text (for ' +
          'example max_connections: "2000", innodb_buffer_pool_size: 4Gi). Values are checked against the parameter ' +
          'type and range on admission. Parameters derived from resources or identity cannot be set.',
        { maxProperties: 512 },
      ),
      restartPolicy: enumStr(
        'How changes to parameters that are not dynamic take effect. Rolling: Units are restarted following the update ' +
          'strategy. Manual: the new files are written but Units keep running the old values (condition ConfigSynced ' +
          'is False with reason RestartRequired) until each Unit is restarted by hand. Dynamic parameters are always ' +
          'applied online without a restart.',
        ['Rolling', 'Manual'],
        { default: 'Rolling' },
      ),
    },
    { default: {} },
  ),
);

const monitoring = named(
  'UnitSetMonitoring',
  object(
    'Metrics of the Units.',
    {
      exporter: named(
        'UnitSetExporter',
        object(
          'The metrics exporter sidecar the UnitTemplate declares (spec.exporter). Ignored when the template has none.',
          {
            enabled: bool('Whether the exporter container runs next to the service.', { default: true }),
            resources: resourceRequirements(
              'Compute resources of the exporter container. When omitted, those of the UnitTemplate apply.',
            ),
          },
          { default: {} },
        ),
      ),
      podMonitor: named(
        'UnitSetPodMonitor',
        object(
          'A monitoring.coreos.com/v1 PodMonitor <name> scraping the exporter. Created when enabled and the ' +
            'PodMonitor kind exists in the cluster, deleted when disabled.',
          {
            enabled: bool('Whether to create the PodMonitor.', { default: false }),
            interval: str('Scrape interval, as a Prometheus duration.', {
              pattern: '^([0-9]+(ms|s|m|h))+$',
              default: '30s',
            }),
            labels: stringMap('Extra labels of the PodMonitor, for the Prometheus podMonitorSelector.'),
          },
          { default: {} },
        ),
      ),
    },
    { default: {} },
  ),
);

const sidecars = named(
  'UnitSetSidecars',
  object(
    'Injection of SidecarSet containers into the Pods of the Units.',
    {
      inject: bool('Whether matching SidecarSets inject their containers at all.', { default: true }),
      exclude: listSet(
        'Names of SidecarSets that must not inject into these Units even though they match.',
        {
          type: 'string',
          pattern: DNS_SUBDOMAIN,
          maxLength: 253,
        },
        { maxItems: 64 },
      ),
    },
    { default: {} },
  ),
);

const unitSetSpec = named(
  'UnitSetSpec',
  object(
    'Desired state of a UnitSet.',
    {
      type: dnsLabel(
        'Service type, for example mysql, redis, redis-sentinel, postgresql, proxysql. It names the main container ' +
          'and selects the UnitTemplate. Cannot be changed.',
      ),
      edition: dnsLabel('Edition of the service, for example community or enterprise. Cannot be changed.', {
        default: UNITSET_DEFAULT_EDITION,
      }),
      version: str(
        'Full version of the service, for example 8.0.36. Changing it upgrades the Units to the UnitTemplate of the new ' +
          'version, following the update strategy.',
        { pattern: '^[0-9a-z]([-.0-9a-z]*[0-9a-z])?$', maxLength: 63 },
      ),
      template: dnsSubdomain(
        'Name of the (cluster-scoped) UnitTemplate the Units are built from. Defaults to <type>-<edition>-<version>, ' +
          'and follows type, edition and version changes while it has that form.',
      ),
      units: int32(
        'Desired number of Units. Units are named <name>-<ordinal> with ordinals 0 to units-1; lowering it removes the ' +
          'Units with the highest ordinals (their claims follow storage.persistentVolumeClaimRetentionPolicy.whenScaled).',
        { minimum: 0 },
      ),
      resources: resourceRequirements(
        'Compute resources of the main container of every Unit. Requests or limits left out take the values of the ' +
          'UnitTemplate (spec.resources). Values derived from them (buffer sizes, thread counts) follow automatically.',
      ),
      storage,
      updateStrategy,
      scheduling,
      services,
      credentials: listMap(
        'Secrets holding the accounts the UnitTemplate declares (spec.credentials). For an account not listed, the ' +
          'controller generates a Secret <name>-<account> of type kubernetes.io/basic-auth with a random password, ' +
          'owned by the UnitSet.',
        ['name'],
        credential,
        { maxItems: 32 },
      ),
      config,
      env: envVars(
        'Environment variables added to every container of the Units (for example ARCH_MODE). A variable of the same ' +
          'name in the template is replaced.',
      ),
      podMetadata: named(
        'UnitSetPodMetadata',
        object('Labels and annotations added to the Pods of the Units.', {
          labels: stringMap('Labels added to the Pods.'),
          annotations: stringMap('Annotations added to the Pods.'),
        }),
      ),
      monitoring,
      sidecars,
    },
    { required: ['type', 'version', 'units'] },
  ),
);

const unitSetStatus = named(
  'UnitSetStatus',
  object('Observed state of a UnitSet.', {
    observedGeneration: observedGeneration('the UnitSet'),
    units: int32('Number of Units that exist.', { minimum: 0 }),
    readyUnits: int32('Number of Units whose Ready condition is True.', { minimum: 0 }),
    updatedUnits: int32('Number of Units at updateRevision.', { minimum: 0 }),
    currentRevision: str(
      'Revision (a hash of the rendered Unit template) that the not-yet-updated Units run. Equals updateRevision when ' +
        'no update is in progress.',
    ),
    updateRevision: str('Revision the Units are being updated to: the hash of the current spec and UnitTemplate.'),
    updatingUnits: listSet(
      'Names of the Units being updated right now (at most maxUnavailable).',
      { type: 'string' },
      {
        maxItems: 1024,
      },
    ),
    template: str('Name of the UnitTemplate the update revision was rendered from.'),
    selector: str(
      'Label selector of the Pods of the Units, in string form (upm.io/unitset=<name>). Published as status.selector ' +
        'of the scale subresource, for kubectl scale and HorizontalPodAutoscalers.',
    ),
    services: object('Names of the Services the controller manages.', {
      headless: str('Name of the headless Service.'),
      external: str('Name of the external Service, when services.external.type is not None.'),
    }),
    conditions: conditions({
      Ready:
        'True when spec.units Units exist, are Ready and run updateRevision (reasons UnitsReady, UnitsNotReady, ' +
        'ScalingUp, ScalingDown, Updating, TemplateNotFound).',
      Available:
        'True when no more Units are unready than updateStrategy.rollingUpdate.maxUnavailable allows (reasons ' +
        'MinimumUnitsAvailable, MinimumUnitsUnavailable).',
      Progressing:
        'True while Units are created, removed or updated (reasons ScalingUp, ScalingDown, Updating); False when ' +
        'every Unit runs updateRevision (UpToDate), when the Units left run below the partition (PartitionReached) or ' +
        'wait to be deleted by hand under OnDelete (WaitingForDeletion).',
      TemplateResolved: 'False when the UnitTemplate does not exist or does not match type, edition and version.',
      ConfigSynced:
        'False while rendered configuration differs from what Units run (reason RestartRequired with restartPolicy ' +
        'Manual).',
      Degraded:
        'True when a Unit cannot be created or updated; the reason names the problem (for example ' +
        'InvalidParameterValue, UnknownParameter, TemplateNotFound). False with reason AsExpected.',
    }),
  }),
);

export const unitSetDefinition = defineUpmResource({
  kind: 'UnitSet',
  shortNames: ['us'],
  namespaced: true,
  description:
    'UnitSet runs a group of identical instances (Units) of one database or middleware service: type, edition and ' +
    'version select a UnitTemplate; the UnitSet owns one Unit per ordinal, each with its own Pod, volumes and ' +
    'configuration, and rolls template changes out under an update strategy. Replication between the Units is set up ' +
    'by the replication kinds (MysqlReplication, RedisReplication, ...), which refer to the Units.',
  schemaDescription: 'UnitSet runs a group of identical instances (Units) of one service.',
  spec: unitSetSpec,
  status: unitSetStatus,
  printerColumns: [
    { name: 'Type', jsonPath: '.spec.type' },
    { name: 'Edition', jsonPath: '.spec.edition', priority: 1 },
    { name: 'Version', jsonPath: '.spec.version' },
    { name: 'Units', jsonPath: '.spec.units' },
    { name: 'Ready', jsonPath: '.status.readyUnits' },
    { name: 'Updated', jsonPath: '.status.updatedUnits', priority: 1 },
    readyReasonColumn,
    { name: 'Template', jsonPath: '.spec.template', priority: 1 },
    ageColumn,
  ],
  subresources: {
    status: true,
    scale: {
      specReplicasPath: '.spec.units',
      statusReplicasPath: '.status.units',
      labelSelectorPath: '.status.selector',
    },
  },
  selectableFields: ['spec.type', 'spec.edition', 'spec.version', 'spec.template'],
});
