// RedisReplication: one Redis primary with replicas (Units or external hosts), with paused-write
// switchover, and failover by the controller or by Redis Sentinel.

import { credentialsSecret, defineUpmResource, named, withDescription } from './common.js';
import {
  failoverCooldownSchema,
  hostSchema,
  instanceSchema,
  promotableSchema,
  replicaStatusSchema,
  replicationPrinterColumns,
  replicationSpecSchema,
  replicationStatusSchema,
  tlsSchema,
} from './replication.js';
import { bool, dnsLabel, enumStr, int32, int64, listMap, object, port, str } from '../machinery/schema.js';

const instance = instanceSchema(
  'RedisInstance',
  'A Redis server taking part in the replication: a Unit or an external host.',
  { engine: 'Redis', defaultPort: 6379 },
  {
    announceHost: hostSchema(
      'Address other parties (replicas, Sentinels, clients behind NAT) must use to reach the instance, when it differs ' +
        'from host (replica-announce-ip). Defaults to host.',
    ),
    announcePort: port('Port matching announceHost (replica-announce-port). Defaults to port.'),
    isolated: bool(
      'Takes the instance out of replication: it stops replicating, leaves the Services and refuses writes ' +
        '(min-replicas-to-write is raised above its replica count) so it cannot become a second writable primary.',
      { default: false },
    ),
    promotable: promotableSchema,
  },
);

const sentinelInstance = instanceSchema('SentinelInstance', 'A Redis Sentinel: a Unit or an external host.', {
  engine: 'Sentinel',
  defaultPort: 26379,
  role: 'client',
});

const sentinel = named(
  'RedisSentinel',
  object(
    'Redis Sentinels that monitor the primary (failover mode Sentinel). The controller registers the primary with every ' +
      'Sentinel (SENTINEL MONITOR), keeps their settings in line with this object, and follows the primary they elect.',
    {
      instances: listMap(
        'The Sentinels. At least three are advisable, in distinct failure domains.',
        ['name'],
        sentinelInstance,
        {
          minItems: 1,
          maxItems: 16,
        },
      ),
      masterName: str('Name the primary is monitored under.', {
        pattern: '^[A-Za-z0-9][-._A-Za-z0-9]*$',
        maxLength: 128,
        default: 'mymaster',
      }),
      quorum: int32('Number of Sentinels that must agree the primary is down before a failover.', {
        minimum: 1,
        default: 2,
      }),
      downAfterMilliseconds: int32('Time without a valid reply after which a Sentinel considers an instance down.', {
        minimum: 1,
        default: 5000,
      }),
      credentials: credentialsSecret('Account used to connect to the Sentinels, when they require authentication.'),
    },
    { required: ['instances'] },
  ),
);

const redisReplicationSpec = replicationSpecSchema('RedisReplication', 'Redis', {
  instances: listMap(
    'The servers. Each one that is not the primary and not isolated replicates from the primary (REPLICAOF) and is ' +
      'read-only (replica-read-only).',
    ['name'],
    instance,
    { minItems: 1, maxItems: 32 },
  ),
  primary: dnsLabel(
    'Name of the instance that should be the primary, behind the read-write Service. Changing it requests a ' +
      'switchover: writes on the current primary are paused (CLIENT PAUSE WRITE), the candidate catches up to the ' +
      "primary's replication offset and is promoted, and the others are re-pointed. After a failover the controller " +
      'sets it to the promoted instance.',
  ),
  credentials: credentialsSecret(
    'Account the controller and the replicas authenticate with (AUTH; masterauth and masteruser on replicas). Without ' +
      'a user name key the default user is used.',
  ),
  tls: withDescription(tlsSchema, 'TLS for the controller connections and the replication links.'),
  switchover: named(
    'RedisSwitchover',
    object(
      'Safety limits of a switchover.',
      {
        maxLagBytes: int64(
          'A switchover does not start while the candidate is behind the primary by more than this many bytes of ' +
            'replication stream.',
          { minimum: 0, default: 1048576 },
        ),
        timeoutSeconds: int32(
          'How long writes stay paused waiting for the candidate to reach the primary offset. On timeout the ' +
            'switchover fails and writes resume on the old primary.',
          { minimum: 1, default: 10 },
        ),
      },
      { default: {} },
    ),
  ),
  failover: named(
    'RedisFailover',
    object(
      'Replacement of a failed primary.',
      {
        mode: enumStr(
          'Manual: a failed primary is reported (condition Degraded) and only changing spec.primary promotes another ' +
            'instance. Automatic: after delaySeconds the controller promotes the promotable, healthy replica with the ' +
            'highest replication offset. Sentinel: spec.sentinel performs failover and the controller follows it.',
          ['Manual', 'Automatic', 'Sentinel'],
          { default: 'Manual' },
        ),
        delaySeconds: int32('How long the primary must be unreachable before the controller fails over (Automatic).', {
          minimum: 0,
          default: 30,
        }),
        cooldownSeconds: failoverCooldownSchema,
      },
      { default: {} },
    ),
  ),
  sentinel,
});

const instanceStatus = replicaStatusSchema(
  'RedisInstanceStatus',
  'Observed state of one Redis server.',
  {
    role: 'Observed role (INFO replication), or Unknown when unreachable.',
    ready:
      'Whether the instance is in its desired state: the writable primary, or a replica of the current primary with ' +
      'its link up and no full synchronisation running.',
  },
  {
    version: str('Server version (redis_version).'),
    primaryHost: str('Host the replica replicates from (master_host).'),
    primaryPort: int32('Port the replica replicates from (master_port).'),
    linkStatus: enumStr('State of the link to the primary (master_link_status).', ['up', 'down']),
    syncInProgress: bool('Whether a full synchronisation from the primary is running (master_sync_in_progress).'),
    replicationOffset: int64(
      'Replication offset of the instance (master_repl_offset on a primary, slave_repl_offset on a replica).',
    ),
    lagBytes: int64('How far the replica is behind the primary offset, in bytes.', { minimum: 0 }),
    connectedReplicas: int32('Number of replicas connected to the instance.', { minimum: 0 }),
  },
);

const redisReplicationStatus = replicationStatusSchema('RedisReplication', {
  currentPrimary: 'Instance that is the writable primary now. Empty while no primary is established.',
  instance: instanceStatus,
  extra: {
    sentinel: object('Observed state of the Sentinels.', {
      monitoredPrimary: str('Address of the primary the Sentinels report (SENTINEL GET-MASTER-ADDR-BY-NAME).'),
      readySentinels: int32('Number of Sentinels reachable and monitoring the primary.', { minimum: 0 }),
    }),
  },
  ready:
    'True when the primary is writable, every other non-isolated instance replicates from it with its link up and ' +
    'the Services point at them.',
  degraded:
    'True when the topology needs attention (reasons SplitBrain: more than one primary; PrimaryFailed; ' +
    'ReplicaLinkDown; SentinelsDisagree).',
});

export const redisReplicationDefinition = defineUpmResource({
  kind: 'RedisReplication',
  shortNames: ['rr'],
  namespaced: true,
  description:
    'RedisReplication keeps one writable Redis primary and read-only replicas, run by Units or reachable as external ' +
    'hosts: switchover with paused writes and an offset check, failover by the controller or by Redis Sentinel, isolated ' +
    'instances that cannot accept writes, and read-write/read-only Services that follow the observed primary.',
  schemaDescription: 'RedisReplication manages replication between Redis servers.',
  spec: redisReplicationSpec,
  status: redisReplicationStatus,
  printerColumns: replicationPrinterColumns({ name: 'Failover', jsonPath: '.spec.failover.mode', priority: 1 }),
  selectableFields: ['spec.primary'],
});
