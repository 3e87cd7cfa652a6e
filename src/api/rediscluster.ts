// RedisCluster: a Redis Cluster built from existing instances (Units or external hosts): meet,
// replica assignment, slot allocation, slot migration on shard changes, and repair.

import {
  ageColumn,
  conditions,
  credentialsSecret,
  defineUpmResource,
  named,
  observedGeneration,
  readyReasonColumn,
  withDescription,
} from './common.js';
import {
  connectAddressSchema,
  hostSchema,
  instanceHealthSchema,
  instanceSchema,
  lastSeenProperties,
  observedRoleSchema,
  pausedSchema,
  tlsSchema,
} from './replication.js';
import {
  bool,
  dateTime,
  dnsLabel,
  enumStr,
  int32,
  int64,
  listAtomic,
  listMap,
  object,
  port,
  str,
} from '../machinery/schema.js';

const clusterInstance = instanceSchema(
  'RedisClusterInstance',
  'A Redis server started with cluster-enabled yes: a Unit or an external host.',
  { engine: 'Redis', defaultPort: 6379 },
  {
    busPort: port('Cluster bus port of the instance. Defaults to port + 10000.'),
    announceHost: hostSchema(
      'Address the instance announces to the other nodes and to clients (cluster-announce-ip or hostname), when it ' +
        'differs from host. Defaults to host.',
    ),
  },
);

const shard = named(
  'RedisClusterShard',
  object(
    'A shard: one primary owning a share of the hash slots, and its replicas.',
    {
      name: dnsLabel('Name of the shard.'),
      instances: listMap('The servers of the shard.', ['name'], clusterInstance, { minItems: 1, maxItems: 16 }),
      primary: dnsLabel(
        'Name of the instance that should be the primary of the shard; the first instance when omitted. Changing it runs ' +
          'a coordinated CLUSTER FAILOVER on the new primary. After a failover decided by the cluster itself, the ' +
          'controller sets it to the promoted instance.',
      ),
      weight: int32(
        'Relative share of the 16384 hash slots the shard owns. Slots are divided in proportion to the weights, in the ' +
          'order of spec.shards.',
        { minimum: 0, default: 1 },
      ),
    },
    { required: ['name', 'instances'] },
  ),
);

const redisClusterSpec = named(
  'RedisClusterSpec',
  object(
    'Desired state of a RedisCluster.',
    {
      shards: listMap(
        'The shards. Adding a shard meets its instances into the cluster and migrates slots to it; removing one first ' +
          'migrates its slots away, then makes its instances forget the cluster.',
        ['name'],
        shard,
        { minItems: 1, maxItems: 128 },
      ),
      credentials: credentialsSecret(
        'Account the controller and the nodes authenticate with (AUTH, masterauth). Without a user name key the default ' +
          'user is used.',
      ),
      tls: withDescription(tlsSchema, 'TLS for the controller connections.'),
      slotMigration: named(
        'RedisClusterSlotMigration',
        object(
          'How slots are moved between shards (CLUSTER SETSLOT IMPORTING/MIGRATING, MIGRATE, SETSLOT NODE).',
          {
            keysPerBatch: int32('Number of keys moved by one MIGRATE command.', {
              minimum: 1,
              maximum: 10000,
              default: 100,
            }),
            timeoutMilliseconds: int32('Timeout of one MIGRATE command.', { minimum: 1, default: 60000 }),
            rebalanceThresholdPercent: int32(
              'Slots are moved to follow the weights only when a shard is off its share by more than this percentage; ' +
                'adding and removing shards always moves slots.',
              { minimum: 0, maximum: 100, default: 2 },
            ),
          },
          { default: {} },
        ),
      ),
      paused: pausedSchema,
    },
    { required: ['shards', 'credentials'] },
  ),
);

const nodeStatus = named(
  'RedisClusterNodeStatus',
  object(
    'Observed state of one cluster node.',
    {
      name: str('Name of the instance in its shard.'),
      nodeId: str('Cluster node ID.'),
      address: connectAddressSchema,
      role: observedRoleSchema('Observed role in the cluster, or Unknown when unreachable.'),
      health: instanceHealthSchema,
      ready: bool('Whether the node is connected to the cluster in its desired role.'),
      primaryNodeId: str('Node ID of the primary a replica replicates from.'),
      flags: listAtomic(
        'Flags of the node in CLUSTER NODES (myself, master, slave, fail?, fail, handshake, noaddr, ...).',
        {
          type: 'string',
        },
      ),
      linkState: enumStr('State of the cluster bus link to the node.', ['connected', 'disconnected']),
      ...lastSeenProperties('node'),
    },
    { required: ['name'] },
  ),
);

const shardStatus = named(
  'RedisClusterShardStatus',
  object(
    'Observed state of one shard.',
    {
      name: str('Name of the shard.'),
      currentPrimary: str('Instance that is the primary of the shard now.'),
      targetPrimary: str('Instance being made primary; differs from currentPrimary during a failover.'),
      slots: listAtomic(
        'Hash slots the shard owns, as ranges such as 0-5460 or single slots.',
        { type: 'string' },
        {
          maxItems: 16384,
        },
      ),
      slotCount: int32('Number of hash slots the shard owns.', { minimum: 0, maximum: 16384 }),
      keys: int64('Number of keys the primary of the shard holds (DBSIZE), when it is reachable.', { minimum: 0 }),
      readyInstances: int32('Number of ready nodes in the shard.', { minimum: 0 }),
      nodes: listMap('Observed state of the nodes of the shard.', ['name'], nodeStatus, { maxItems: 16 }),
    },
    { required: ['name'] },
  ),
);

const redisClusterStatus = named(
  'RedisClusterStatus',
  object('Observed state of a RedisCluster.', {
    observedGeneration: observedGeneration('the RedisCluster'),
    clusterState: enumStr('cluster_state from CLUSTER INFO: ok when every slot is served.', ['ok', 'fail']),
    slotsAssigned: int32('Number of slots assigned to a node (16384 when the cluster is complete).', {
      minimum: 0,
      maximum: 16384,
    }),
    slotsFail: int32('Number of slots served by a node in the fail state.', { minimum: 0, maximum: 16384 }),
    totalShards: int32('Number of shards in spec.shards.', { minimum: 0 }),
    readyShards: int32('Number of shards whose primary and replicas are all ready.', { minimum: 0 }),
    shards: listMap('Observed state of every shard.', ['name'], shardStatus, { maxItems: 128 }),
    migration: named(
      'RedisClusterMigration',
      object('The slot migration in progress.', {
        fromShard: str('Shard the slots are moved from.'),
        toShard: str('Shard the slots are moved to.'),
        slot: int32('Slot being moved now.', { minimum: 0, maximum: 16383 }),
        slotsRemaining: int32('Slots still to move in this migration.', { minimum: 0 }),
        slotsMoved: int32('Slots moved so far in this migration.', { minimum: 0 }),
        startTime: dateTime('When the migration started.'),
        steps: listAtomic(
          'The plan, written before any slot moves so a restarted controller resumes it: every move not finished yet ' +
            'with the slots it still has to move. A slot already owned by its destination is done; a step is dropped ' +
            'when all its slots are.',
          named(
            'RedisClusterMigrationStep',
            object(
              'Slots to move from one shard to another.',
              {
                fromShard: str('Shard the slots are moved from.'),
                toShard: str('Shard the slots are moved to.'),
                slots: listAtomic('Slots still to move, as ranges such as 0-99 or single slots.', { type: 'string' }),
              },
              { required: ['fromShard', 'toShard', 'slots'] },
            ),
          ),
          { maxItems: 256 },
        ),
      }),
    ),
    conditions: conditions({
      Ready: 'True when every node has joined, every slot is served and each shard has its desired primary.',
      Progressing: 'True while nodes join or leave, slots move or a primary changes.',
      Degraded:
        'True when the cluster needs attention (reasons SlotsUncovered, OpenSlots, NodeFailed, ViewsInconsistent, ' +
        'AnnounceAddressMismatch).',
    }),
  }),
);

export const redisClusterDefinition = defineUpmResource({
  kind: 'RedisCluster',
  shortNames: ['rcc'],
  namespaced: true,
  description:
    'RedisCluster forms a Redis Cluster from Redis servers run by Units or reachable as external hosts: it meets the ' +
    'nodes, assigns replicas to their shard primary, allocates the hash slots by weight, migrates slots when shards are ' +
    'added, removed or re-weighted, moves primaries with CLUSTER FAILOVER, and repairs open or uncovered slots and ' +
    'failed nodes.',
  schemaDescription: 'RedisCluster manages a Redis Cluster.',
  spec: redisClusterSpec,
  status: redisClusterStatus,
  printerColumns: [
    { name: 'State', jsonPath: '.status.clusterState' },
    { name: 'Shards', jsonPath: '.status.totalShards' },
    { name: 'Ready', jsonPath: '.status.readyShards' },
    { name: 'Slots', jsonPath: '.status.slotsAssigned' },
    readyReasonColumn,
    ageColumn,
  ],
});
