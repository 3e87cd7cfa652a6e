// Schema pieces shared by the kinds that drive database instances (MysqlReplication,
// RedisReplication, RedisCluster, ProxysqlSync): instance references, TLS, and the spec, status
// and printer columns of a primary/replica topology. Descriptions that name the engine or differ
// on purpose are parameters.

import type { JSONSchema, PrinterColumn } from '../machinery/definition.js';
import {
  bool,
  dateTime,
  dnsLabel,
  enumStr,
  int32,
  int64,
  listMap,
  object,
  port,
  str,
  stringMap,
} from '../machinery/schema.js';
import {
  ageColumn,
  conditions,
  HOST,
  localObjectReference,
  named,
  observedGeneration,
  readyReasonColumn,
  secretKeySelector,
  SERVICE_TYPES,
  withDescription,
} from './common.js';

/** How an instance is reached: the engine named in descriptions, its default port, and its part in the topology. */
export interface InstanceEndpoint {
  engine: string;
  defaultPort: number;
  /**
   * A member (MySQL, Redis) takes part in the replication: other fields designate it, its Pod is
   * labelled with the role it plays. A client-side instance (ProxySQL, Sentinel) is only reached.
   */
  role?: 'member' | 'client';
}

/** TLS settings for connections from a controller to database instances. */
export const tlsSchema = named(
  'ClientTLS',
  object(
    'TLS for the connections the controller opens to the instances and, where the engine supports it, for the ' +
      'replication links it configures.',
    {
      mode: enumStr(
        'Disabled: plain TCP. Required: TLS without certificate verification. VerifyCA: TLS, the server certificate must ' +
          'be signed by the given CA. VerifyFull: VerifyCA plus the certificate must name the host connected to.',
        ['Disabled', 'Required', 'VerifyCA', 'VerifyFull'],
        { default: 'Disabled' },
      ),
      ca: secretKeySelector(
        'PEM bundle of the CA that signs the server certificates. Required by VerifyCA and VerifyFull.',
      ),
      clientCertificate: localObjectReference(
        'A Secret of type kubernetes.io/tls (keys tls.crt and tls.key) presented as client certificate, for servers ' +
          'that require one.',
      ),
    },
    { default: {} },
  ),
);

// ---------------------------------------------------------------------------------------------
// Instance references

/**
 * The fields every instance reference has. An instance is either a Unit in the same namespace
 * (Kubernetes-managed) or any reachable host:port (external).
 */
function instanceProperties({ engine, defaultPort, role = 'member' }: InstanceEndpoint): Record<string, JSONSchema> {
  const member = role === 'member';
  return {
    name: dnsLabel(
      `Identifier of the ${engine} instance within this object: the key of its status entry` +
        (member ? ' and the value other fields (such as primary) use to designate it' : '') +
        '. It does not need to be the name of any Kubernetes object.',
    ),
    unitRef: localObjectReference(
      `A Unit in the same namespace that runs the ${engine} instance. The controller connects to the Unit's ` +
        'status.address (unless host is given)' +
        (member ? " and labels the Unit's Pod with the role it observes, which drives the Services" : '') +
        '. Either unitRef or host must be given.',
    ),
    host: hostSchema(
      'Host name or IP address the controller connects to' +
        (member ? ' and the address written into the replication configuration' : '') +
        '. Required for an instance outside Kubernetes or not run by a Unit; with unitRef it overrides the Unit address.',
    ),
    port: port(`TCP port of the ${engine} instance.`, { default: defaultPort }),
  };
}

/** The instance reference rule: a unitRef or a host. */
const UNIT_OR_HOST: JSONSchema[] = [{ required: ['unitRef'] }, { required: ['host'] }];

/** An instance reference named `typeName`: the common fields, then the `extra` fields of the kind. */
export function instanceSchema(
  typeName: string,
  description: string,
  endpoint: InstanceEndpoint,
  extra: Record<string, JSONSchema> = {},
): JSONSchema {
  return named(
    typeName,
    object(description, { ...instanceProperties(endpoint), ...extra }, { required: ['name'], anyOf: UNIT_OR_HOST }),
  );
}

/** A host name or an IP address. */
export function hostSchema(description: string): JSONSchema {
  return str(description, { pattern: HOST, maxLength: 253 });
}

export const promotableSchema = bool('Whether the instance may become primary through automatic failover.', {
  default: true,
});

export const failoverCooldownSchema = int32('Minimum time between two automatic failovers, to prevent flapping.', {
  minimum: 0,
  default: 300,
});

/** Status of a primary change (CloudNativePG-style switchover/failover record). */
const primaryChangeSchema = named(
  'PrimaryChange',
  object(
    'A change of primary: a switchover requested through spec.primary, or an automatic failover. Every step is recorded ' +
      'before it is taken so the change resumes where it stopped after a controller restart.',
    {
      kind: enumStr(
        'Switchover: planned, the old primary is fenced and drained first. Failover: the old primary is lost.',
        ['Switchover', 'Failover'],
      ),
      from: str('Name of the instance that was primary.'),
      to: str('Name of the instance being promoted.'),
      phase: enumStr(
        'Step reached. Pending: checks before fencing (candidate health and lag). Fencing: the old primary is made ' +
          'read-only and removed from the read-write Service. CatchingUp: waiting for the candidate to apply everything ' +
          'the old primary had written. Promoting: the candidate is made writable. Repointing: the other instances are ' +
          'attached to the new primary. Completed or Failed: the change is over (after Failed the old primary is unfenced ' +
          'when it is still healthy).',
        ['Pending', 'Fencing', 'CatchingUp', 'Promoting', 'Repointing', 'Completed', 'Failed'],
      ),
      epoch: int64(
        'Number of primary changes so far, incremented when a change starts. Writes into the instances carry it so a stale ' +
          'controller cannot act on an old topology.',
        { minimum: 0 },
      ),
      startTime: dateTime('When the change started.'),
      completionTime: dateTime('When the change reached Completed or Failed.'),
      reason: str('CamelCase reason of the current phase, for example PrimaryUnreachable or CandidateLagging.'),
      message: str('Human-readable detail of the current phase or of the failure.'),
    },
    { required: ['kind', 'to', 'phase'] },
  ),
);

/** Kubernetes Services pointing at the current primary and at the replicas. */
function replicationServiceSchema(engine: string): JSONSchema {
  return named(
    'ReplicationServices',
    object(
      `The Services <name>-readwrite (the current primary) and <name>-readonly (ready replicas) giving clients access to the ` +
        `${engine} topology. They select Pods of Unit-backed instances by the role label the controller sets from the ` +
        'observed, fenced topology (never from spec alone). Instances given only by host are not part of the Services.',
      {
        type: enumStr('Type of both Services.', SERVICE_TYPES, { default: 'ClusterIP' }),
        annotations: stringMap('Annotations of both Services, for example load-balancer settings of a cloud provider.'),
        readOnly: bool('Whether to create the <name>-readonly Service.', { default: true }),
      },
      { default: {} },
    ),
  );
}

const replicationServicesStatusSchema = named(
  'ReplicationServicesStatus',
  object('Names of the Services the controller manages.', {
    readWrite: str('Name of the Service that targets the current primary.'),
    readOnly: str('Name of the Service that targets the ready replicas.'),
  }),
);

const deletionPolicySchema = enumStr(
  'What happens to the instances when this object is deleted. Retain: replication and Pod labels are left as they are. ' +
    'Detach: replicas stop replicating and stay read-only, Pod labels are removed; data is never deleted.',
  ['Retain', 'Detach'],
  { default: 'Retain' },
);

export const pausedSchema = bool(
  'Stops all changes to the topology (no promotion, fencing or re-pointing). Status is still observed and reported.',
  { default: false },
);

export const instanceHealthSchema = enumStr(
  'Health of the instance as seen by the controller. Healthy: reachable and consistent with the topology. Unreachable: ' +
    'no connection. Diverged: it has data the primary does not (errant transactions or a forked history) and is kept ' +
    'out of replication until rebuilt. Failed: reachable but replication is broken (see message).',
  ['Healthy', 'Unreachable', 'Diverged', 'Failed'],
);

// ---------------------------------------------------------------------------------------------
// Observed instances

/** Observed role of a server in a primary/replica topology. */
export function observedRoleSchema(description: string): JSONSchema {
  return enumStr(description, ['Primary', 'Replica', 'Unknown']);
}

export const connectAddressSchema = str('host:port the controller connects to.');

/** The last fields of an observed server: when it was last reached and what keeps it from ready. */
export function lastSeenProperties(noun: 'instance' | 'node'): Record<string, JSONSchema> {
  return {
    lastSeen: dateTime(`When the controller last reached the ${noun}.`),
    message: str(`Why the ${noun} is not ready, or the last error met while reconciling it.`),
  };
}

/** Observed state of one instance of spec.instances of a primary/replica topology. */
export function replicaStatusSchema(
  typeName: string,
  description: string,
  describe: { role: string; ready: string },
  engineFields: Record<string, JSONSchema>,
): JSONSchema {
  return named(
    typeName,
    object(
      description,
      {
        name: str('Name of the instance in spec.instances.'),
        address: connectAddressSchema,
        role: observedRoleSchema(describe.role),
        health: instanceHealthSchema,
        ready: bool(describe.ready),
        ...engineFields,
        ...lastSeenProperties('instance'),
      },
      { required: ['name'] },
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// Primary/replica topologies (MysqlReplication, RedisReplication)

/** `<kind>Spec`: the kind's fields, then the Services, pause and deletion policy every topology has. */
export function replicationSpecSchema(kind: string, engine: string, fields: Record<string, JSONSchema>): JSONSchema {
  return named(
    `${kind}Spec`,
    object(
      `Desired state of a ${kind}.`,
      {
        ...fields,
        service: replicationServiceSchema(engine),
        paused: pausedSchema,
        deletionPolicy: deletionPolicySchema,
      },
      { required: ['instances', 'primary', 'credentials'] },
    ),
  );
}

export interface ReplicationStatusInput {
  /** Description of status.currentPrimary. */
  currentPrimary: string;
  /** Schema of one entry of status.instances. */
  instance: JSONSchema;
  /** Fields of the kind, placed after status.instances. */
  extra?: Record<string, JSONSchema>;
  /** Meaning of the Ready and Degraded conditions. */
  ready: string;
  degraded: string;
}

/** `<kind>Status` of a primary/replica topology. */
export function replicationStatusSchema(kind: string, input: ReplicationStatusInput): JSONSchema {
  return named(
    `${kind}Status`,
    object(`Observed state of a ${kind}.`, {
      observedGeneration: observedGeneration(`the ${kind}`),
      currentPrimary: str(input.currentPrimary),
      targetPrimary: str(
        'Instance being made primary. Differs from currentPrimary while a switchover or failover is in progress.',
      ),
      totalInstances: int32('Number of instances in spec.instances.', { minimum: 0 }),
      readyInstances: int32('Number of instances that are ready.', { minimum: 0 }),
      instances: listMap('Observed state of every instance.', ['name'], input.instance, { maxItems: 32 }),
      ...input.extra,
      lastPrimaryChange: withDescription(
        primaryChangeSchema,
        'The switchover or failover in progress, or the last one.',
      ),
      services: replicationServicesStatusSchema,
      conditions: conditions({
        Ready: input.ready,
        Progressing: 'True while a switchover or failover runs.',
        Degraded: input.degraded,
        ServicesReady: 'Whether the Services and Pod labels match the observed topology.',
      }),
    }),
  );
}

export const readyInstancesColumn: PrinterColumn = { name: 'Ready', jsonPath: '.status.readyInstances' };
export const totalInstancesColumn: PrinterColumn = { name: 'Instances', jsonPath: '.status.totalInstances' };

/** Columns of a primary/replica topology; `wide` is the kind's own column shown with -o wide. */
export function replicationPrinterColumns(wide: PrinterColumn): PrinterColumn[] {
  return [
    { name: 'Primary', jsonPath: '.status.currentPrimary' },
    readyInstancesColumn,
    totalInstancesColumn,
    wide,
    { name: 'Target', jsonPath: '.status.targetPrimary', priority: 1 },
    readyReasonColumn,
    ageColumn,
  ];
}
