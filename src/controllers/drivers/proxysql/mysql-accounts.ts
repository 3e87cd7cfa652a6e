// The MySQL side of ProxysqlSync: which accounts of the primary are copied into ProxySQL, with
// their password hashes, and the server version ProxySQL should report. One read-only query on
// mysql.user, its host pattern a value (never SQL), over the MySQL driver's connection.
// The account needs SELECT on mysql.user (and on mysql.global_priv for MariaDB).

import { withMysql, type MysqlTarget, type MysqlTimeouts } from '../mysql/connection.js';

export type HostMatch = 'Exact' | 'Like' | 'Regex';

export interface AccountRule {
  hostMatch: HostMatch;
  hostPattern: string;
  /** User names never copied. */
  exclude: string[];
}

export interface Account {
  username: string;
  host: string;
  /** The hash ProxySQL accepts in mysql_users.password: mysql_native_password's `*HEX`, or '' for no password. */
  hash: string;
}

export interface SkippedAccount {
  username: string;
  host: string;
  reason: string;
}

export interface AccountsSnapshot {
  version: string;
  accounts: Account[];
  skipped: SkippedAccount[];
}

const hostCondition: Record<HostMatch, string> = {
  Exact: 'u.Host = ?',
  Like: 'u.Host LIKE ?',
  Regex: 'u.Host REGEXP ?',
};

/**
 * The accounts query. MySQL's mysql.user has account_locked; MariaDB's mysql.user is a view over
 * mysql.global_priv without it, so the lock is read from the JSON there.
 */
function accountsQuery(match: HostMatch, mariadb: boolean): string {
  const where = `WHERE ${hostCondition[match]} ORDER BY u.User, u.Host`;
  if (!mariadb) return `SELECT u.* FROM mysql.user u ${where}`;
  return (
    "SELECT u.*, IF(JSON_VALUE(g.Priv, '$.account_locked') IN ('1', 'true'), 'Y', 'N') AS account_locked " +
    `FROM mysql.user u JOIN mysql.global_priv g ON g.User = u.User AND g.Host = u.Host ${where}`
  );
}

const nativeHash = /^\*[0-9A-F]{40}$/i;

/** Column `name` of a mysql.user row, whatever case the server uses (User/user, Host/host). */
function field(row: Record<string, unknown>, name: string): string | undefined {
  const key = Object.keys(row).find((k) => k.toLowerCase() === name);
  const v = key === undefined ? undefined : row[key];
  if (v === null || v === undefined) return undefined;
  return Buffer.isBuffer(v) ? v.toString('latin1') : String(v);
}

/** Classifies a mysql.user row (pure; exported for tests of MySQL 8 rows, which no server here produces). */
export function classifyAccount(row: Record<string, unknown>): Account | SkippedAccount {
  const username = field(row, 'user') ?? '';
  const host = field(row, 'host') ?? '';
  if (username === '') return { username, host, reason: 'an anonymous account' };
  if (field(row, 'is_role') === 'Y') return { username, host, reason: 'a role, not a login account' };
  if (field(row, 'account_locked') === 'Y') return { username, host, reason: 'the account is locked' };
  if (field(row, 'password_expired') === 'Y') return { username, host, reason: 'the password has expired' };
  const plugin = field(row, 'plugin') || 'mysql_native_password';
  const hash = field(row, 'authentication_string') ?? '';
  if (plugin !== 'mysql_native_password') {
    return { username, host, reason: `authentication plugin ${plugin} has no hash ProxySQL can check` };
  }
  if (hash !== '' && !nativeHash.test(hash)) {
    return { username, host, reason: 'the mysql_native_password hash is not in *HEX form' };
  }
  return { username, host, hash: hash.toUpperCase() };
}

/** Reads the version of the server at `t` and the accounts `rule` selects (none without a rule). */
export async function readAccounts(
  t: MysqlTarget,
  rule: AccountRule | undefined,
  timeouts: MysqlTimeouts = {},
): Promise<AccountsSnapshot> {
  return withMysql(
    t,
    async (s) => {
      if (!rule) return { version: s.version, accounts: [], skipped: [] };
      const rows = await s.run({
        sql: accountsQuery(rule.hostMatch, s.dialect.flavor === 'MariaDB'),
        values: [rule.hostPattern],
      });
      const accounts: Account[] = [];
      const skipped: SkippedAccount[] = [];
      for (const row of rows) {
        const a = classifyAccount(row);
        if (rule.exclude.includes(a.username)) continue;
        if ('hash' in a) accounts.push(a);
        else skipped.push(a);
      }
      return { version: s.version, accounts, skipped };
    },
    timeouts,
  );
}
