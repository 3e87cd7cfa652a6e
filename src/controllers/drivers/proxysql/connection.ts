// Fail-fast mysql2 connections to ProxySQL's admin interface (it speaks the MySQL protocol; MySQL
// servers themselves are reached through drivers/mysql). A reconcile must never hang on a dead
// server: connect and query timeouts are short, and the reconciler, not the client, decides when
// to try again.

import { createConnection, type Connection } from 'mysql2/promise';

export interface AdminTarget {
  host: string;
  port: number;
  username: string;
  password: string;
}

export interface Timeouts {
  connectMs?: number;
  queryMs?: number;
}

export const defaultTimeouts = { connectMs: 2000, queryMs: 5000 };

export async function connectAdmin(t: AdminTarget, timeouts: Timeouts = {}): Promise<Connection> {
  const conn = await createConnection({
    host: t.host,
    port: t.port,
    user: t.username,
    password: t.password,
    connectTimeout: timeouts.connectMs ?? defaultTimeouts.connectMs,
    // Values are read as text: ProxySQL's admin returns every column as text anyway.
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
    // The client interpolates nothing: statements arrive complete (see sql.ts).
    multipleStatements: false,
  });
  // A socket error between commands must not become an unhandled 'error' event.
  conn.on('error', () => undefined);
  return conn;
}

/** Rows of `sql` (no values: the statement is complete) within the query timeout. */
export async function queryRows(
  conn: Connection,
  sql: string,
  timeouts: Timeouts = {},
): Promise<Record<string, string | null>[]> {
  const [rows] = await conn.query({ sql, timeout: timeouts.queryMs ?? defaultTimeouts.queryMs });
  return rows as Record<string, string | null>[];
}

/**
 * Whether `err` is a failure to reach or log in to the server (as opposed to a statement the
 * server refused).
 */
export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: string; fatal?: boolean; errno?: number };
  return (
    e.fatal === true ||
    [
      'ECONNREFUSED',
      'ETIMEDOUT',
      'ECONNRESET',
      'EHOSTUNREACH',
      'ENOTFOUND',
      'EAI_AGAIN',
      'PROTOCOL_CONNECTION_LOST',
    ].includes(e.code ?? '')
  );
}
