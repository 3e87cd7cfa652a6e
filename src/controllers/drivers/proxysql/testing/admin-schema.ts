// The part of ProxySQL 2.x's admin schema the stand-in holds, written from ProxySQL's documented
// table definitions (columns, defaults, CHECK constraints and keys). ProxySQL keeps the same tables
// three times: `main` (the in-memory configuration that admin statements edit), `disk` (what SAVE
// … TO DISK persists) and runtime_* (what LOAD … TO RUNTIME makes active).

const mysqlServers = (name: string) => `CREATE TABLE ${name} (
  hostgroup_id INT CHECK (hostgroup_id>=0) NOT NULL DEFAULT 0,
  hostname VARCHAR NOT NULL,
  port INT CHECK (port >= 0 AND port <= 65535) NOT NULL DEFAULT 3306,
  gtid_port INT CHECK ((gtid_port <> port OR gtid_port=0) AND gtid_port >= 0 AND gtid_port <= 65535) NOT NULL DEFAULT 0,
  status VARCHAR CHECK (UPPER(status) IN ('ONLINE','SHUNNED','OFFLINE_SOFT','OFFLINE_HARD')) NOT NULL DEFAULT 'ONLINE',
  weight INT CHECK (weight >= 0 AND weight <= 10000000) NOT NULL DEFAULT 1,
  compression INT CHECK (compression IN (0,1)) NOT NULL DEFAULT 0,
  max_connections INT CHECK (max_connections >= 0) NOT NULL DEFAULT 1000,
  max_replication_lag INT CHECK (max_replication_lag >= 0 AND max_replication_lag <= 126144000) NOT NULL DEFAULT 0,
  use_ssl INT CHECK (use_ssl IN (0,1)) NOT NULL DEFAULT 0,
  max_latency_ms INT UNSIGNED CHECK (max_latency_ms >= 0) NOT NULL DEFAULT 0,
  comment VARCHAR NOT NULL DEFAULT '',
  PRIMARY KEY (hostgroup_id, hostname, port))`;

const replicationHostgroups = (name: string) => `CREATE TABLE ${name} (
  writer_hostgroup INT CHECK (writer_hostgroup>=0) NOT NULL PRIMARY KEY,
  reader_hostgroup INT NOT NULL CHECK (reader_hostgroup<>writer_hostgroup AND reader_hostgroup>=0),
  check_type VARCHAR CHECK (LOWER(check_type) IN ('read_only','innodb_read_only','super_read_only','read_only|innodb_read_only','read_only&innodb_read_only')) NOT NULL DEFAULT 'read_only',
  comment VARCHAR NOT NULL DEFAULT '',
  UNIQUE (reader_hostgroup))`;

const mysqlUsers = (name: string) => `CREATE TABLE ${name} (
  username VARCHAR NOT NULL,
  password VARCHAR,
  active INT CHECK (active IN (0,1)) NOT NULL DEFAULT 1,
  use_ssl INT CHECK (use_ssl IN (0,1)) NOT NULL DEFAULT 0,
  default_hostgroup INT NOT NULL DEFAULT 0,
  default_schema VARCHAR,
  schema_locked INT CHECK (schema_locked IN (0,1)) NOT NULL DEFAULT 0,
  transaction_persistent INT CHECK (transaction_persistent IN (0,1)) NOT NULL DEFAULT 1,
  fast_forward INT CHECK (fast_forward IN (0,1)) NOT NULL DEFAULT 0,
  backend INT CHECK (backend IN (0,1)) NOT NULL DEFAULT 1,
  frontend INT CHECK (frontend IN (0,1)) NOT NULL DEFAULT 1,
  max_connections INT CHECK (max_connections >= 0) NOT NULL DEFAULT 10000,
  attributes VARCHAR CHECK (JSON_VALID(attributes) OR attributes = '') NOT NULL DEFAULT '',
  comment VARCHAR NOT NULL DEFAULT '',
  PRIMARY KEY (username, backend),
  UNIQUE (username, frontend))`;

const globalVariables = (name: string) =>
  `CREATE TABLE ${name} (variable_name VARCHAR NOT NULL PRIMARY KEY, variable_value VARCHAR NOT NULL)`;

/** The modules LOAD/SAVE name, and the tables each one covers. */
export const moduleTables = {
  SERVERS: ['mysql_servers', 'mysql_replication_hostgroups'],
  USERS: ['mysql_users'],
  VARIABLES: ['global_variables'],
} as const;

const definitions: Record<string, (name: string) => string> = {
  mysql_servers: mysqlServers,
  mysql_replication_hostgroups: replicationHostgroups,
  mysql_users: mysqlUsers,
  global_variables: globalVariables,
};

/** Statements creating the main, runtime_* and disk.* tables (the `disk` database must be attached). */
export function schemaStatements(): string[] {
  return Object.entries(definitions).flatMap(([table, define]) => [
    define(table),
    define(`runtime_${table}`),
    define(`disk.${table}`),
  ]);
}

/** ProxySQL's per-server connection pool statistics (a few of its columns), in the attached `stats` database. */
export const connectionPoolStatement = `CREATE TABLE stats.stats_mysql_connection_pool (
  hostgroup INT, srv_host VARCHAR, srv_port INT, status VARCHAR,
  ConnUsed INT NOT NULL DEFAULT 0, ConnFree INT NOT NULL DEFAULT 0, ConnOK INT NOT NULL DEFAULT 0,
  ConnERR INT NOT NULL DEFAULT 0, Queries INT NOT NULL DEFAULT 0, Latency_us INT NOT NULL DEFAULT 0)`;

/** Variables a fresh ProxySQL has that the controller reads or writes. */
export const defaultVariables: Record<string, string> = {
  // Marks the stand-in: no real ProxySQL reports this version.
  'admin-version': '0.0.0-standin',
  'mysql-server_version': '8.0.11',
  'mysql-monitor_username': 'monitor',
  'mysql-monitor_password': 'monitor',
  'mysql-monitor_writer_is_also_reader': 'true',
};
