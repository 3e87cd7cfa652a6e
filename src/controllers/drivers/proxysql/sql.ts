// SQL text for ProxySQL's admin interface. The admin interface is SQLite behind the MySQL
// protocol, and it does not support server-side prepared statements for every statement, so
// values are written into the text as SQLite literals. SQLite's rules, not MySQL's: a string is
// single-quoted with quotes doubled and backslashes taken literally (MySQL's `\'` escaping would
// leave a quote open here). Table and column names are constants of this module, never input.

/** A value the admin tables hold: text, an integer, or NULL. */
export type SqlValue = string | number | null;

export class SqlValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SqlValueError';
  }
}

const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** A string as an SQLite literal. NUL (SQLite would cut the text there) and lone surrogates are refused. */
export function sqlString(value: string): string {
  if (value.includes('\0')) throw new SqlValueError('a value contains a NUL character');
  if (loneSurrogate.test(value)) throw new SqlValueError('a value is not well-formed Unicode');
  return `'${value.replaceAll("'", "''")}'`;
}

/** An integer as an SQLite literal; anything but a safe integer is refused. */
export function sqlInteger(value: number): string {
  if (!Number.isSafeInteger(value)) throw new SqlValueError(`${String(value)} is not an integer`);
  return String(value);
}

export function sqlValue(value: SqlValue): string {
  if (value === null) return 'NULL';
  return typeof value === 'number' ? sqlInteger(value) : sqlString(value);
}

/** The admin tables this driver writes, with the columns it may name. */
export const adminColumns = {
  mysql_servers: [
    'hostgroup_id',
    'hostname',
    'port',
    'status',
    'weight',
    'max_connections',
    'max_replication_lag',
    'comment',
  ],
  mysql_replication_hostgroups: ['writer_hostgroup', 'reader_hostgroup', 'check_type', 'comment'],
  mysql_users: ['username', 'password', 'active', 'default_hostgroup', 'max_connections', 'comment'],
  global_variables: ['variable_name', 'variable_value'],
} as const;

export type AdminTable = keyof typeof adminColumns;
export type Row = Record<string, SqlValue>;

/** One change of one admin table row (what the planner decides, rendered by renderChange). */
export type Change =
  | { op: 'insert'; table: AdminTable; values: Row }
  | { op: 'update'; table: AdminTable; where: Row; set: Row }
  | { op: 'delete'; table: AdminTable; where: Row };

function column(table: AdminTable, name: string): string {
  if (!(adminColumns[table] as readonly string[]).includes(name)) {
    throw new SqlValueError(`${name} is not a column this driver writes in ${table}`);
  }
  return name;
}

function conditions(table: AdminTable, where: Row): string {
  const terms = Object.entries(where).map(([k, v]) =>
    v === null ? `${column(table, k)} IS NULL` : `${column(table, k)}=${sqlValue(v)}`,
  );
  if (terms.length === 0) throw new SqlValueError(`a change of ${table} names no row`);
  return terms.join(' AND ');
}

/** The statement for `change`. Every value is a literal from sqlValue; every name is a known column. */
export function renderChange(change: Change): string {
  const { table } = change;
  switch (change.op) {
    case 'insert': {
      const names = Object.keys(change.values).map((k) => column(table, k));
      const values = Object.values(change.values).map(sqlValue);
      return `INSERT INTO ${table} (${names.join(',')}) VALUES (${values.join(',')})`;
    }
    case 'update': {
      const set = Object.entries(change.set).map(([k, v]) => `${column(table, k)}=${sqlValue(v)}`);
      if (set.length === 0) throw new SqlValueError(`an update of ${table} sets nothing`);
      return `UPDATE ${table} SET ${set.join(',')} WHERE ${conditions(table, change.where)}`;
    }
    case 'delete':
      return `DELETE FROM ${table} WHERE ${conditions(table, change.where)}`;
  }
}

/** The module of the admin configuration a table belongs to (what LOAD/SAVE name). */
export type AdminModule = 'SERVERS' | 'USERS' | 'VARIABLES';
export const moduleOf: Record<AdminTable, AdminModule> = {
  mysql_servers: 'SERVERS',
  mysql_replication_hostgroups: 'SERVERS',
  mysql_users: 'USERS',
  global_variables: 'VARIABLES',
};

/** Makes the in-memory configuration of `module` active, then persistent. */
export const loadAndSave = (module: AdminModule): string[] => [
  `LOAD MYSQL ${module} TO RUNTIME`,
  `SAVE MYSQL ${module} TO DISK`,
];
