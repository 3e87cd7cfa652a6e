// Load and checks for Redis replication tests and benchmarks, on loopback only: one client per
// server for writers and samplers, and the check that acknowledged writes are still there.

import type { Redis } from 'ioredis';
import type { RedisServer } from './redis-server.js';

/** One client per server, made again once it has ended; `commandTimeout` bounds every command. */
export function serverClients(servers: Record<string, RedisServer>, commandTimeout: number) {
  const clients = new Map<string, Redis>();
  return {
    get(name: string): Redis {
      let c = clients.get(name);
      if (!c || c.status === 'end') {
        c = servers[name].client();
        c.options.commandTimeout = commandTimeout;
        clients.set(name, c);
      }
      return c;
    },
    disconnect(): void {
      for (const c of clients.values()) c.disconnect();
    },
  };
}

/**
 * The keys, each written as `<prefix>:<i>` with the value `<i>`, that the server behind `connect()`
 * does not return with their value (read in batches of 1000; the connection is closed after).
 */
export async function missingKeys(connect: () => Redis, keys: string[]): Promise<string[]> {
  const c = connect();
  const out: string[] = [];
  try {
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      const values = await c.mget(...batch);
      batch.forEach((k, j) => {
        if (values[j] !== k.split(':')[1]) out.push(k);
      });
    }
  } finally {
    c.disconnect();
  }
  return out;
}
