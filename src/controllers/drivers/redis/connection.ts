// Connections to Redis servers and Sentinels: the only place Kauntlet opens a Redis socket.
// A controller must never hang on a dead server nor queue commands for later replay, so every
// connection fails fast (connect and command timeouts, no offline queue, no reconnection) and
// the reconciler, not the client, decides when to try again.

import { Redis, type RedisOptions } from 'ioredis';
import type { ConnectionOptions as TlsOptions } from 'node:tls';

export interface RedisTarget {
  host: string;
  port: number;
  username?: string;
  password?: string;
  /** node:tls options (ca, cert, key, servername, rejectUnauthorized) when TLS is on. */
  tls?: TlsOptions;
}

export interface RedisTimeouts {
  connectMs?: number;
  commandMs?: number;
}

const defaults = { connectMs: 2000, commandMs: 5000 };

/** Options for a fail-fast connection to `t` (exported for tests of the option mapping). */
export function connectionOptions(t: RedisTarget, timeouts: RedisTimeouts = {}): RedisOptions {
  return {
    host: t.host,
    port: t.port,
    username: t.username,
    password: t.password,
    tls: t.tls,
    connectTimeout: timeouts.connectMs ?? defaults.connectMs,
    commandTimeout: timeouts.commandMs ?? defaults.commandMs,
    lazyConnect: true,
    enableOfflineQueue: false,
    enableReadyCheck: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    // CLIENT SETNAME lets an operator see the controller's connections in CLIENT LIST.
    connectionName: 'upm-kauntlet',
  };
}

/**
 * Closes `c`. A connection the server or the network already ended is left alone: ioredis's
 * disconnect() would arm a 2 s timer to destroy a socket that no longer closes (its 'close' has
 * been), keeping the process alive that long for nothing.
 */
export function closeRedis(c: Redis): void {
  if (c.status !== 'end') c.disconnect();
}

/**
 * Opens a connection to `t`, or rejects with the server's or the socket's error (wrong password:
 * WRONGPASS/NOAUTH; unreachable: ECONNREFUSED or a timeout). The caller must close it (closeRedis).
 */
export async function connectRedis(t: RedisTarget, timeouts: RedisTimeouts = {}): Promise<Redis> {
  const client = new Redis(connectionOptions(t, timeouts));
  // Errors surface through the awaited commands; an unhandled 'error' event would crash the process.
  // The first one is kept: a refused AUTH closes the stream, and the command that follows would
  // only report the closed stream.
  let firstError: unknown;
  client.on('error', (err) => (firstError ??= err));
  try {
    await client.connect();
    await client.ping();
    return client;
  } catch (err) {
    closeRedis(client);
    throw firstError ?? err;
  }
}

/** A connection held open to `t`; `closed` settles when it ends (see kauntlet/shared/liveness.ts). */
export async function holdRedis(
  t: RedisTarget,
  timeouts?: RedisTimeouts,
): Promise<{ closed: Promise<void>; close(): Promise<void> }> {
  const client = await connectRedis(t, timeouts);
  const closed = new Promise<void>((resolve) => client.once('end', () => resolve()));
  return {
    closed,
    close: async () => {
      closeRedis(client);
      await closed;
    },
  };
}

/** Runs `fn` with a connection to `t` and always closes it. */
export async function withRedis<T>(t: RedisTarget, fn: (c: Redis) => Promise<T>, timeouts?: RedisTimeouts): Promise<T> {
  const client = await connectRedis(t, timeouts);
  try {
    return await fn(client);
  } finally {
    closeRedis(client);
  }
}

/** Parses INFO output into field → value (sections flattened; later duplicates win). */
export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    if (!line || line.startsWith('#')) continue;
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}
