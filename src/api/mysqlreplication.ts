// MysqlReplication: GTID-based asynchronous or semi-synchronous replication between MySQL 8 or
// MariaDB instances (Units or external hosts), with fenced switchover and optional failover.

import { credentialsSecret, defineUpmResource, named } from './common.js';
import {
  failoverCooldownSchema,
  instanceSchema,
  promotableSchema,
  replicaStatusSchema,
  replicationPrinterColumns,
  replicationSpecSchema,
  replicationStatusSchema,
  tlsSchema,
} from './replication.js';
import { bool, dnsLabel, enumStr, int32, int64, listMap, object, str } from '../machinery/schema.js';

const instance = instanceSchema(
  'MysqlInstance',
  'A MySQL or MariaDB server taking part in the replication: a Unit or an external host.',
  { engine: 'MySQL', defaultPort: 3306 },
  {
    isolated: bool(
      'Takes the instance out of replication while keeping it read-only (replication is stopped and reset, it leaves ' +
        'the Services); for maintenance or investigation. It is never promoted.',
      { default: false },
    ),
    promotable: promotableSchema,
  },
);

const credentials = named(
  'MysqlReplicationCredentials',
  object(
    'Accounts the controller uses.',
    {
      admin: credentialsSecret(
        'Account the controller connects with to read state and change the topology. Needs SUPER (or ' +
          'SYSTEM_VARIABLES_ADMIN, REPLICATION_SLAVE_ADMIN, CONNECTION_ADMIN), REPLICATION CLIENT and PROCESS.',
      ),
      replication: credentialsSecret(
        'Account replicas use to connect to the primary (REPLICATION SLAVE). The admin account when omitted.',
      ),
    },
    { required: ['admin'] },
  ),
);

const mysqlReplicationSpec = replicationSpecSchema('MysqlReplication', 'MySQL', {
  instances: listMap(
    'The servers. Each one that is not the primary and not isolated replicates from the primary with GTID auto ' +
      'positioning and is kept read-only (read_only and super_read_only).',
    ['name'],
    instance,
    { minItems: 1, maxItems: 32 },
  ),
  primary: dnsLabel(
    'Name of the instance that should be the primary (replication source), writable and behind the read-write ' +
      'Service. Changing it requests a switchover: the current primary is fenced (read-only, removed from the ' +
      'Service, connections killed), the new one catches up with every transaction of the old one, is promoted, and ' +
      'the others are re-pointed. After an automatic failover the controller sets it to the promoted instance.',
  ),
  mode: enumStr(
    'Async: asynchronous replication. SemiSync: the primary commits only after waitForReplicaCount replicas have ' +
      'received the transaction, so a failover loses no acknowledged write.',
    ['Async', 'SemiSync'],
    { default: 'Async' },
  ),
  semiSync: named(
    'MysqlSemiSync',
    object(
      'Semi-synchronous replication settings (mode SemiSync).',
      {
        waitForReplicaCount: int32(
          'Number of replica acknowledgements a commit waits for (MySQL only; MariaDB always waits for one).',
          { minimum: 1, default: 1 },
        ),
        timeoutSeconds: int32(
          'How long a commit waits for acknowledgements before the primary falls back to asynchronous replication. ' +
            'When omitted the primary never falls back: writes block while no replica acknowledges, which rules out ' +
            'losing acknowledged writes.',
          { minimum: 1 },
        ),
      },
      { default: {} },
    ),
  ),
  credentials,
  tls: named('MysqlClientTLS', {
    ...tlsSchema,
    description: 'TLS for the controller connections and the replication channels.',
    properties: {
      ...tlsSchema.properties,
      serverCAFile: str(
        "Path, on every server's own file system (e.g. a mounted Secret), of the PEM CA bundle the replicas verify " +
          'their source with under VerifyCA and VerifyFull (SOURCE_SSL_CA / MASTER_SSL_CA; VerifyFull also checks the ' +
          "source's host name). The controller cannot place files on the servers: without this path the replication " +
          'channels are encrypted but the replicas do not verify their source (the controller still verifies every ' +
          'server it connects to).',
        { pattern: '^/', maxLength: 4096 },
      ),
    },
  }),
  switchover: named(
    'MysqlSwitchover',
    object(
      'Safety limits of a switchover.',
      {
        maxLagSeconds: int32(
          'A switchover does not start (the primary is not fenced) while the candidate lags by more than this ' +
            'many seconds, so writes are not blocked for long.',
          { minimum: 0, default: 30 },
        ),
        catchUpTimeoutSeconds: int32(
          'How long, once the primary is fenced, to wait for the candidate to have applied every transaction of the ' +
            'primary (GTID set containment). On timeout the switchover fails and the old primary is unfenced.',
          { minimum: 1, default: 60 },
        ),
      },
      { default: {} },
    ),
  ),
  failover: named(
    'MysqlFailover',
    object(
      'Automatic replacement of a failed primary.',
      {
        mode: enumStr(
          'Manual: a failed primary is reported (condition Degraded) and only changing spec.primary promotes another ' +
            'instance. Automatic: after delaySeconds the controller fences what it can of the old primary and promotes ' +
            'the promotable, healthy replica holding the most transactions; replicas with errant transactions are ' +
            'never chosen.',
          ['Manual', 'Automatic'],
          { default: 'Manual' },
        ),
        delaySeconds: int32('How long the primary must be unreachable or broken before a failover starts.', {
          minimum: 0,
          default: 30,
        }),
        maxLagSeconds: int32('A replica that lagged by more than this at its last observation is not a candidate.', {
          minimum: 0,
          default: 60,
        }),
        cooldownSeconds: failoverCooldownSchema,
      },
      { default: {} },
    ),
  ),
});

const instanceStatus = replicaStatusSchema(
  'MysqlInstanceStatus',
  'Observed state of one server.',
  {
    role: 'Observed role: Primary (no replication configured), Replica, or Unknown when unreachable.',
    ready:
      'Whether the instance is in its desired state: a writable primary, or a read-only replica of the current primary ' +
      'with both replication threads running.',
  },
  {
    flavor: enumStr('Server flavor, from SELECT VERSION().', ['MySQL', 'MariaDB']),
    version: str('Server version.'),
    readOnly: bool('Value of read_only.'),
    superReadOnly: bool('Value of super_read_only (MySQL only).'),
    sourceHost: str('Host the replica replicates from.'),
    sourcePort: int32('Port the replica replicates from.'),
    ioThreadRunning: enumStr('State of the replication I/O (receiver) thread.', ['Yes', 'No', 'Connecting']),
    sqlThreadRunning: enumStr('State of the replication SQL (applier) thread.', ['Yes', 'No']),
    secondsBehindSource: int64('Replication delay in seconds. Absent when the server reports NULL (threads stopped).', {
      minimum: 0,
    }),
    gtidExecuted: str('GTID set (MySQL) or GTID position (MariaDB) of the transactions the instance has applied.'),
    lastIOError: str('Last error of the I/O thread.'),
    lastSQLError: str('Last error of the SQL thread.'),
    semiSyncEnabled: bool('Whether semi-synchronous replication is active on the instance (source or replica side).'),
  },
);

const mysqlReplicationStatus = replicationStatusSchema('MysqlReplication', {
  currentPrimary: 'Instance that is the writable, fenced-in primary now. Empty while no primary is established.',
  instance: instanceStatus,
  ready:
    'True when the primary is writable, every other non-isolated instance replicates from it and the Services point ' +
    'at them (reasons Ready, PrimaryUnreachable, ReplicasNotReady, SwitchoverInProgress, Paused).',
  degraded:
    'True when the topology needs attention (reasons SplitBrain: more than one writable instance; ' +
    'ErrantTransactions; ReplicationBroken; PrimaryFailed with failover mode Manual).',
});

export const mysqlReplicationDefinition = defineUpmResource({
  kind: 'MysqlReplication',
  shortNames: ['mr'],
  namespaced: true,
  description:
    'MysqlReplication sets up and keeps GTID-based asynchronous or semi-synchronous replication between MySQL 8 or ' +
    'MariaDB servers run by Units or reachable as external hosts: one writable primary, read-only replicas, fenced ' +
    'switchovers with no lost transactions, optional automatic failover, and read-write/read-only Services that follow ' +
    'the observed topology.',
  schemaDescription: 'MysqlReplication manages replication between MySQL or MariaDB servers.',
  spec: mysqlReplicationSpec,
  status: mysqlReplicationStatus,
  printerColumns: replicationPrinterColumns({ name: 'Mode', jsonPath: '.spec.mode', priority: 1 }),
  selectableFields: ['spec.primary'],
});
