// The replication operations on one server, each a short sequence of dialect statements. They
// are idempotent: a controller that dies half-way through one runs it again from the start.

import type { MysqlSession } from './connection.js';
import type { ReplicaStatus, SemiSyncSettings, SourceAddress, Variables } from './dialect.js';
import { parseGtidSet, waitPosition, type Flavor } from './gtid.js';

export interface ServerState {
  version: string;
  flavor: Flavor;
  /** server_id (MariaDB) or server_uuid (MySQL): the origin of the GTIDs it writes. */
  origin: string;
  readOnly: boolean;
  superReadOnly?: boolean;
  /** GTIDs applied, in the server's text form. */
  executed: string;
  semiSync: { source: boolean; replica: boolean };
  /** Absent when no replication is configured. */
  replica?: ReplicaStatus;
  variables: Variables;
}

export async function readServerState(s: MysqlSession): Promise<ServerState> {
  const d = s.dialect;
  const rows = await s.run<{ Variable_name: string; Value: string }>(d.variables);
  const variables: Variables = Object.fromEntries(rows.map((r) => [r.Variable_name, r.Value ?? '']));
  const replica = d.parseReplicaStatus(await s.run(d.replicaStatus));
  return {
    version: s.version,
    flavor: d.flavor,
    origin: d.origin(variables),
    ...d.readOnly(variables),
    executed: d.executed(variables),
    semiSync: d.semiSync(variables),
    replica,
    variables,
  };
}

async function runAll(s: MysqlSession, stmts: { sql: string; values?: (string | number)[] }[]): Promise<void> {
  for (const stmt of stmts) await s.run(stmt);
}

/** Rejects writes and ends the client sessions (replication and this session excepted). Returns how many. */
export async function fence(s: MysqlSession): Promise<number> {
  await runAll(s, s.dialect.fence());
  const ids = await s.run<{ id: string | number }>(s.dialect.clientConnections);
  let killed = 0;
  for (const { id } of ids) {
    // A session may end by itself in between ("Unknown thread id"): not an error.
    await s.run(s.dialect.kill(Number(id))).then(
      () => killed++,
      () => undefined,
    );
  }
  return killed;
}

export const makeReadOnly = (s: MysqlSession): Promise<void> => runAll(s, s.dialect.fence());
export const makeWritable = (s: MysqlSession): Promise<void> => runAll(s, s.dialect.unfence());

export interface ReplicateOptions {
  /** The instance has no replication configured (it was a primary or is new). */
  fresh: boolean;
  semiSync: boolean;
}

/** Points the instance at `source` with GTID positioning and starts replication; read-only first. */
export async function replicateFrom(
  s: MysqlSession,
  state: ServerState,
  source: SourceAddress,
  opts: ReplicateOptions,
): Promise<void> {
  const d = s.dialect;
  await runAll(s, d.fence());
  await s.run(d.stopReplica);
  if (opts.fresh) await runAll(s, d.prepareReplica(state.variables));
  await s.run(d.changeSource(source));
  await runAll(s, d.semiSyncSource(false));
  await runAll(s, d.semiSyncReplica(opts.semiSync));
  await s.run(d.startReplica);
}

export async function startReplication(s: MysqlSession): Promise<void> {
  await s.run(s.dialect.startReplica);
}

/** Stops and forgets replication (an isolated instance); the instance stays read-only. */
export async function detach(s: MysqlSession): Promise<void> {
  await runAll(s, s.dialect.fence());
  await s.run(s.dialect.stopReplica);
  await s.run(s.dialect.resetReplicaAll);
}

/** Sets the semi-sync flags of a replica, reconnecting its receiver so the change takes effect. */
export async function setReplicaSemiSync(s: MysqlSession, enabled: boolean): Promise<void> {
  await runAll(s, s.dialect.semiSyncSource(false));
  await runAll(s, s.dialect.semiSyncReplica(enabled));
  await runAll(s, s.dialect.restartReceiver());
}

export async function setSourceSemiSync(s: MysqlSession, enabled: boolean, settings?: SemiSyncSettings): Promise<void> {
  await runAll(s, s.dialect.semiSyncReplica(false));
  await runAll(s, s.dialect.semiSyncSource(enabled, settings));
}

/** Ends replication on the instance and makes it a writable primary (semi-sync source when asked). */
export async function promote(s: MysqlSession, semiSync: SemiSyncSettings | undefined): Promise<void> {
  const d = s.dialect;
  await s.run(d.stopReplica);
  await s.run(d.resetReplicaAll);
  await setSourceSemiSync(s, !!semiSync, semiSync);
  await runAll(s, d.unfence());
}

/** Waits up to `timeoutSeconds` for the instance to have applied `position`; false on timeout. */
export async function waitForGtids(s: MysqlSession, position: string, timeoutSeconds: number): Promise<boolean> {
  const [row] = await s.run<{ r: unknown }>(
    s.dialect.waitForGtids(position, timeoutSeconds),
    timeoutSeconds * 1000 + 5000,
  );
  return s.dialect.waitSucceeded(row?.r);
}

/**
 * The position a replica must reach to hold every transaction of `s`, read once `s` is
 * read-only (so the position cannot move on); throws if `s` is writable.
 */
export async function fencedPosition(s: MysqlSession): Promise<string> {
  const state = await readServerState(s);
  if (!state.readOnly) throw new Error('the server is writable: its GTID position is not final');
  return waitPosition(parseGtidSet(state.flavor, state.executed));
}
