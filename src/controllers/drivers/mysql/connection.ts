// Connections to MySQL and MariaDB servers: the only place Kauntlet opens a MySQL socket. Every
// connection fails fast (connect and per-statement timeouts) and is closed after use; the
// reconciler decides when to try again. Errors carry the server's message and code, never the
// password (mysql2 does not put it in its errors, and nothing here logs statement values).

import { createConnection, type Connection, type SslOptions } from 'mysql2/promise';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { checksHostName } from '../tls.js';
import { dialectFor, type Dialect, type Statement } from './dialect.js';

export interface MysqlTarget {
  host: string;
  port: number;
  /** The engine's default account (root) when absent. */
  user?: string;
  password: string;
  /** node:tls options (drivers/tls.ts tlsOptions) when TLS is on. */
  tls?: TlsOptions;
}

export interface MysqlTimeouts {
  connectMs?: number;
  queryMs?: number;
}

const defaults = { connectMs: 2000, queryMs: 5000 };

export class MysqlError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/**
 * Whether `err` is TLS failing: the handshake (a server certificate that failed verification,
 * no common protocol) or a server without TLS. mysql2 gives every handshake failure one code.
 */
export function isTlsFailure(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === 'HANDSHAKE_SSL_ERROR' || code === 'HANDSHAKE_NO_SSL_SUPPORT';
}

export interface MysqlSession {
  readonly version: string;
  readonly dialect: Dialect;
  /** Runs one statement; `timeoutMs` overrides the query timeout (for waits). */
  run<T = Record<string, unknown>>(stmt: Statement, timeoutMs?: number): Promise<T[]>;
  close(): Promise<void>;
  /** Settles when the connection ends: closed here, by the server, or lost. */
  readonly closed: Promise<void>;
}

function wrap(err: unknown, target: MysqlTarget): MysqlError {
  const e = err as { message?: string; code?: string };
  return new MysqlError(`${target.host}:${target.port}: ${e.message ?? String(err)}`, e.code);
}

/**
 * mysql2's form of node:tls options. mysql2 replaces node's host name check with its own switch,
 * verifyIdentity, which it applies to IP addresses too (node's check, at the handshake).
 */
export function sslOptions(o: TlsOptions): SslOptions {
  const pem = (v: TlsOptions['ca']) => (typeof v === 'string' ? v : undefined);
  return {
    ca: pem(o.ca),
    cert: pem(o.cert),
    key: pem(o.key as TlsOptions['ca']),
    rejectUnauthorized: o.rejectUnauthorized !== false,
    verifyIdentity: checksHostName(o),
  };
}

/**
 * The TCP socket to an IP address, for a host name check against that address. mysql2 upgrades
 * its socket to TLS without a host name for an IP (none can be sent as SNI), and node then
 * checks the certificate against the socket's host, which net records only for names it
 * resolved: without this, a certificate naming "localhost" would pass for any IP.
 */
function socketTo(host: string, port: number): Socket {
  const socket = netConnect(port, host);
  socket.setNoDelay(true);
  (socket as Socket & { _host?: string })._host = host;
  return socket;
}

/** Opens a session on `t` and picks the dialect from the server version. */
export async function connectMysql(t: MysqlTarget, timeouts: MysqlTimeouts = {}): Promise<MysqlSession> {
  const queryMs = timeouts.queryMs ?? defaults.queryMs;
  let conn: Connection;
  try {
    conn = await createConnection({
      host: t.host,
      port: t.port,
      user: t.user ?? 'root',
      password: t.password,
      connectTimeout: timeouts.connectMs ?? defaults.connectMs,
      ssl: t.tls ? sslOptions(t.tls) : undefined,
      stream: t.tls && checksHostName(t.tls) && isIP(t.host) ? () => socketTo(t.host, t.port) : undefined,
      supportBigNumbers: true,
      bigNumberStrings: true,
      dateStrings: true,
      multipleStatements: false,
    });
  } catch (err) {
    throw wrap(err, t);
  }
  // A connection lost later emits 'error'; the awaited statement reports it.
  const closed = new Promise<void>((resolve) => {
    conn.on('error', () => resolve());
    conn.on('end', () => resolve());
  });
  const run = async <T>(stmt: Statement, timeoutMs = queryMs): Promise<T[]> => {
    try {
      const [rows] = await conn.query({ sql: stmt.sql, values: stmt.values, timeout: timeoutMs });
      return (Array.isArray(rows) ? rows : []) as T[];
    } catch (err) {
      throw wrap(err, t);
    }
  };
  const close = async () => {
    await conn.end().catch(() => conn.destroy());
  };
  try {
    const [row] = await run<{ v: string }>({ sql: 'SELECT VERSION() AS v' });
    const choice = dialectFor(row?.v ?? '');
    if (!choice.ok) throw new MysqlError(`${t.host}:${t.port}: ${choice.message}`, 'UNSUPPORTED_VERSION');
    return { version: row.v, dialect: choice.dialect, run, close, closed };
  } catch (err) {
    conn.destroy();
    throw err;
  }
}

/** Runs `fn` with a session on `t` and always closes it. */
export async function withMysql<T>(
  t: MysqlTarget,
  fn: (s: MysqlSession) => Promise<T>,
  timeouts?: MysqlTimeouts,
): Promise<T> {
  const s = await connectMysql(t, timeouts);
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}
