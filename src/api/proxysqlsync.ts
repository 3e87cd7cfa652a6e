// ProxysqlSync: keeps the backend servers and the users of ProxySQL instances in line with a
// MysqlReplication.

import {
  ageColumn,
  conditions,
  credentialsSecret,
  defineUpmResource,
  localObjectReference,
  named,
  observedGeneration,
  readyReasonColumn,
  withDescription,
} from './common.js';
import {
  instanceHealthSchema,
  instanceSchema,
  pausedSchema,
  readyInstancesColumn,
  tlsSchema,
  totalInstancesColumn,
} from './replication.js';
import { bool, dateTime, enumStr, int32, listMap, listSet, object, str } from '../machinery/schema.js';

const proxysqlInstance = instanceSchema(
  'ProxysqlInstance',
  'A ProxySQL server, reached on its admin interface: a Unit or an external host.',
  { engine: 'ProxySQL admin', defaultPort: 6032, role: 'client' },
);

const hostgroupId = (description: string, dflt: number) => int32(description, { minimum: 0, default: dflt });

const servers = named(
  'ProxysqlServers',
  object(
    'How the MySQL servers of the MysqlReplication are registered in ProxySQL (mysql_servers and ' +
      'mysql_replication_hostgroups). The primary goes to the writer hostgroup, ready replicas to the reader hostgroup; ' +
      'isolated instances are left out. Servers are compared with the mysql_servers table (not the runtime one, which ' +
      "ProxySQL's monitor rewrites); a server leaving is first set OFFLINE_SOFT so connections drain.",
    {
      writerHostgroup: hostgroupId('Hostgroup of the primary.', 0),
      readerHostgroup: hostgroupId('Hostgroup of the replicas.', 1),
      checkType: enumStr(
        'Variable ProxySQL monitors to tell writers from readers.',
        [
          'read_only',
          'innodb_read_only',
          'super_read_only',
          'read_only|innodb_read_only',
          'read_only&innodb_read_only',
        ],
        { default: 'read_only' },
      ),
      writerIsAlsoReader: bool('Whether the primary also serves reads in the reader hostgroup.', { default: false }),
      maxConnections: int32('max_connections of every server.', { minimum: 1, default: 2000 }),
      maxReplicationLagSeconds: int32(
        'A replica lagging by more than this is shunned until it catches up (max_replication_lag). 0 disables the check.',
        { minimum: 0, default: 0 },
      ),
    },
    { default: {} },
  ),
);

const users = named(
  'ProxysqlUsers',
  object(
    'Which MySQL accounts are copied into ProxySQL (mysql_users), with their password hashes. Only users this object ' +
      'added are ever removed; users created in ProxySQL by other means are left alone.',
    {
      enabled: bool('Whether users are synchronised at all.', { default: true }),
      hostMatch: enumStr(
        'How hostPattern is compared with mysql.user.host. Exact: equality (for example %). Like: SQL LIKE. Regex: ' +
          'REGEXP.',
        ['Exact', 'Like', 'Regex'],
        { default: 'Exact' },
      ),
      hostPattern: str('Accounts whose host matches are copied.', { default: '%', maxLength: 255 }),
      exclude: listSet(
        'User names never copied.',
        { type: 'string', maxLength: 128 },
        {
          maxItems: 256,
          default: ['root', 'mysql.sys', 'mysql.session', 'mysql.infoschema'],
        },
      ),
      defaultHostgroup: int32('Hostgroup the users connect to by default; the writer hostgroup when omitted.', {
        minimum: 0,
      }),
      maxConnections: int32('max_connections of every copied user.', { minimum: 1, default: 2000 }),
    },
    { default: {} },
  ),
);

const proxysqlSyncSpec = named(
  'ProxysqlSyncSpec',
  object(
    'Desired state of a ProxysqlSync.',
    {
      mysqlReplication: localObjectReference(
        'The MysqlReplication whose servers and users are synchronised. Changes to it (a new primary, an isolated ' +
          'replica) are applied as soon as they are observed.',
      ),
      proxysql: listMap('The ProxySQL servers to configure.', ['name'], proxysqlInstance, {
        minItems: 1,
        maxItems: 32,
      }),
      credentials: named(
        'ProxysqlSyncCredentials',
        object(
          'Accounts the controller uses.',
          {
            admin: credentialsSecret('ProxySQL admin account (admin_credentials), used on the admin interface.'),
            mysql: credentialsSecret(
              'MySQL account used to read mysql.user on the primary. The admin account of the MysqlReplication when ' +
                'omitted.',
            ),
            monitor: credentialsSecret(
              'MySQL account ProxySQL monitors the servers with (mysql-monitor_username and mysql-monitor_password). ' +
                'Left as configured in ProxySQL when omitted.',
            ),
          },
          { required: ['admin'] },
        ),
      ),
      tls: withDescription(tlsSchema, 'TLS for the controller connections to the ProxySQL admin interfaces.'),
      servers,
      users,
      paused: pausedSchema,
    },
    { required: ['mysqlReplication', 'proxysql', 'credentials'] },
  ),
);

const proxysqlStatus = named(
  'ProxysqlInstanceStatus',
  object(
    'Observed state of one ProxySQL server.',
    {
      name: str('Name of the instance in spec.proxysql.'),
      address: str('host:port of the admin interface.'),
      health: instanceHealthSchema,
      ready: bool('Whether servers and users are in sync on this instance.'),
      version: str('ProxySQL version.'),
      serversSynced: bool(
        'Whether mysql_servers and mysql_replication_hostgroups match the desired state (and are loaded to runtime).',
      ),
      usersSynced: bool('Whether mysql_users matches the desired state (and is loaded to runtime).'),
      users: int32('Number of users this object manages on the instance.', { minimum: 0 }),
      writer: str('Server (host:port) in the writer hostgroup at runtime.'),
      lastSyncTime: dateTime('When the instance was last found or made in sync.'),
      message: str('Why the instance is not in sync, or the last error met while reconciling it.'),
    },
    { required: ['name'] },
  ),
);

const proxysqlSyncStatus = named(
  'ProxysqlSyncStatus',
  object('Observed state of a ProxysqlSync.', {
    observedGeneration: observedGeneration('the ProxysqlSync'),
    primary: str('Current primary of the MysqlReplication, as registered in the writer hostgroup.'),
    totalInstances: int32('Number of ProxySQL servers in spec.proxysql.', { minimum: 0 }),
    readyInstances: int32('Number of ProxySQL servers in sync.', { minimum: 0 }),
    instances: listMap('Observed state of every ProxySQL server.', ['name'], proxysqlStatus, { maxItems: 32 }),
    conditions: conditions({
      Ready: 'True when every ProxySQL server has the desired servers and users loaded to runtime.',
      ServersSynced:
        'Whether the servers and hostgroups are in sync everywhere (reason MysqlReplicationNotFound, ...).',
      UsersSynced: 'Whether the users are in sync everywhere.',
    }),
  }),
);

export const proxysqlSyncDefinition = defineUpmResource({
  kind: 'ProxysqlSync',
  shortNames: ['ps'],
  namespaced: true,
  description:
    'ProxysqlSync keeps ProxySQL servers in line with a MysqlReplication: the primary in the writer hostgroup and the ' +
    'replicas in the reader hostgroup (read_only monitoring moves them on failover without waiting for the controller), ' +
    'the MySQL accounts copied with their password hashes, and the server version ProxySQL reports.',
  schemaDescription: 'ProxysqlSync keeps ProxySQL servers in line with a MysqlReplication.',
  spec: proxysqlSyncSpec,
  status: proxysqlSyncStatus,
  printerColumns: [
    { name: 'Replication', jsonPath: '.spec.mysqlReplication.name' },
    { name: 'Primary', jsonPath: '.status.primary' },
    readyInstancesColumn,
    totalInstancesColumn,
    readyReasonColumn,
    ageColumn,
  ],
  selectableFields: ['spec.mysqlReplication.name'],
});
