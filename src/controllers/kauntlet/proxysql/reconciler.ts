// The ProxysqlSync controller: observe (the MysqlReplication's status, the admin tables of every
// ProxySQL, the accounts of the primary) → plan (./plan.ts, pure) → act (the driver applies the
// changes, then LOAD … TO RUNTIME and SAVE … TO DISK), then status and Events.
//
// A change is announced in status before it is made (the instance's serversSynced/usersSynced set
// false): a controller stopped between the table edits and the LOAD finds the flag false on its
// next pass and loads again even though the tables already match. A pass that finds everything in
// line writes nothing to ProxySQL and, when nothing else changed, nothing to the API either.

import type {
  MysqlReplication,
  ProxysqlInstanceStatus,
  ProxysqlSync,
  ProxysqlSyncStatus,
  Unit,
} from '../../../api/generated/types.js';
import { isNotFound } from '../../../machinery/errors.js';
import type { KubeObject } from '../../../machinery/object.js';
import { ProxysqlAdmin } from '../../drivers/proxysql/admin.js';
import type { Timeouts } from '../../drivers/proxysql/connection.js';
import { readAccounts, type AccountsSnapshot } from '../../drivers/proxysql/mysql-accounts.js';
import type { AdminModule } from '../../drivers/proxysql/sql.js';
import { proxysqlSyncs, secrets } from '../../resources.js';
import type { KubeClient } from '../../runtime/client.js';
import type { ReconcileContext, Request, Result } from '../../runtime/controller.js';
import type { EventRecorder } from '../../runtime/events.js';
import type { Informer } from '../../runtime/informer.js';
import { credentialsFrom, type Credentials, type CredentialsRef } from '../shared/credentials.js';
import { addressOf, resolveInstance, type Endpoint, type UnitAddressing } from '../shared/instances.js';
import {
  blockedStatus,
  hasWork,
  pending,
  problemOf,
  syncStatus,
  withConditions,
  type Instance,
  type Problem,
} from './status.js';
import {
  desiredServers,
  desiredUsers,
  markerOf,
  planServers,
  planUsers,
  planVariables,
  serverSettings,
  userSettings,
  type DesiredServers,
  type DesiredUsers,
  type UserSettings,
} from './plan.js';

export const proxysqlSyncFieldManager = 'upm.io/proxysqlsync-controller';

export interface ProxysqlSyncCaches {
  syncs: Informer;
  replications: Informer;
  units: Informer;
}

export interface ProxysqlSyncOptions {
  unitAddressing?: UnitAddressing;
  /** Poll for drift made in ProxySQL by hand (default 30 s). */
  resyncMs?: number;
  /** Poll while servers drain or an instance is unreachable (default 5 s). */
  retryMs?: number;
  timeouts?: Timeouts;
}

const asObject = (o: unknown) => o as KubeObject;

/** What the primary gives: the users to copy (or why not) and the variables to set. */
interface FromPrimary {
  users?: DesiredUsers;
  usersProblem?: Problem;
  variables: Record<string, string>;
}

export class ProxysqlSyncReconciler {
  /**
   * Per ProxysqlSync and instance, the modules this process last knew to be loaded. It is fresher
   * than the status in the cache, which can lag this controller's own last write; the status flag
   * is what a new process (or a new leader) starts from.
   */
  private readonly loaded = new Map<string, { uid: string; modules: Set<AdminModule> }>();

  constructor(
    private readonly client: KubeClient,
    private readonly caches: ProxysqlSyncCaches,
    private readonly events: EventRecorder,
    private readonly opts: ProxysqlSyncOptions = {},
    private readonly now: () => Date = () => new Date(),
  ) {}

  readonly reconcile = async (req: Request, ctx: ReconcileContext): Promise<Result | void> => {
    const sync = this.caches.syncs.get(req.namespace, req.name) as unknown as ProxysqlSync | undefined;
    if (!sync || sync.metadata.deletionTimestamp) {
      for (const key of this.loaded.keys())
        if (key.startsWith(`${req.namespace}/${req.name}/`)) this.loaded.delete(key);
      return;
    }
    const ns = req.namespace;
    const resyncMs = this.opts.resyncMs ?? 30_000;
    const retryMs = this.opts.retryMs ?? 5000;
    const marker = markerOf(sync);
    const previous = new Map((sync.status?.instances ?? []).map((i) => [i.name, i]));

    const mrName = sync.spec.mysqlReplication.name;
    const mr = this.caches.replications.get(ns, mrName) as unknown as MysqlReplication | undefined;
    const admin = await this.credentials(ns, sync.spec.credentials.admin);
    const tlsMode = sync.spec.tls?.mode ?? 'Disabled';
    const monitorRef = sync.spec.credentials.monitor;
    const monitor = monitorRef ? await this.credentials(ns, monitorRef) : undefined;
    const blocker: Problem | undefined = !mr
      ? { reason: 'MysqlReplicationNotFound', message: `MysqlReplication ${JSON.stringify(mrName)} not found` }
      : !admin.ok
        ? { reason: admin.reason, message: `admin credentials: ${admin.message}` }
        : monitor && !monitor.ok
          ? { reason: monitor.reason, message: `monitor credentials: ${monitor.message}` }
          : tlsMode !== 'Disabled'
            ? { reason: 'TLSNotSupported', message: `tls.mode ${tlsMode} is not supported by this controller yet` }
            : undefined;
    if (blocker || !mr || !admin.ok) {
      this.events.event(asObject(sync), 'Warning', blocker!.reason, 'Sync', blocker!.message);
      await this.writeStatus(sync, blockedStatus(sync, blocker!), { servers: blocker, users: blocker });
      return { requeueAfterMs: resyncMs };
    }

    // Desired servers, from the MysqlReplication's observed topology.
    const settings = serverSettings(sync.spec.servers);
    const endpoints = new Map<string, Endpoint>();
    for (const inst of mr.spec.instances ?? []) {
      const r = resolveInstance(inst, this.unit(ns, inst.unitRef?.name), 3306, this.opts.unitAddressing);
      if (r.ok) endpoints.set(inst.name, r.endpoint);
    }
    const servers = desiredServers(settings, mr, endpoints, marker);
    const desired = servers.ok ? servers.desired : undefined;
    const serversProblem: Problem | undefined = servers.ok ? undefined : servers;

    // Desired users and server version, from the primary: read while ProxySQL is read, so a slow
    // primary does not hold up the servers.
    const fromPrimary = (async (): Promise<FromPrimary> => {
      const userRule = userSettings(sync.spec.users);
      const out: FromPrimary = { variables: {} };
      if (monitor?.ok) {
        if (monitor.credentials.username) out.variables['mysql-monitor_username'] = monitor.credentials.username;
        out.variables['mysql-monitor_password'] = monitor.credentials.password;
      }
      const got = await this.readPrimary(sync, mr, desired, endpoints, userRule.enabled ? userRule : undefined);
      if (!('reason' in got) && got.version) out.variables['mysql-server_version'] = got.version;
      if (!userRule.enabled) return out;
      if ('reason' in got) {
        out.usersProblem = got;
        this.events.event(asObject(sync), 'Warning', got.reason, 'ReadAccounts', got.message);
        return out;
      }
      out.users = desiredUsers(userRule, got, settings.writerHostgroup, marker);
      if (out.users.skipped.length > 0) {
        const note = truncate(`not copied: ${out.users.skipped.join('; ')}`);
        this.events.event(asObject(sync), 'Normal', 'AccountsSkipped', 'ReadAccounts', note);
      }
      return out;
    })();

    const instances: Instance[] = sync.spec.proxysql.map((p) => ({ name: p.name, reload: [], applied: false }));
    try {
      // Observe and plan.
      await Promise.all(
        sync.spec.proxysql.map((p, n) =>
          this.observe(sync, instances[n], p, admin.credentials, previous.get(p.name), desired, fromPrimary),
        ),
      );
      const { usersProblem } = await fromPrimary;
      const paused = sync.spec.paused === true;
      const toApply = paused ? [] : instances.filter((i) => !i.failure && hasWork(i));
      if (toApply.length > 0) {
        // Announce before acting (see the header).
        await this.writeStatus(sync, syncStatus(sync, instances, desired, false, this.now()), {
          servers: serversProblem ?? problemOf(instances, 'SERVERS', false),
          users: usersProblem ?? problemOf(instances, 'USERS', false),
        });
        await Promise.all(toApply.map((i) => this.act(sync, i, ctx)));
        this.recordChanges(
          sync,
          toApply.filter((i) => i.applied),
        );
      }
      await Promise.all(
        instances.map(async (i) => {
          if (i.failure || !i.admin || !desired) return;
          try {
            i.runtime = await i.admin.runtimeServers();
          } catch (err) {
            i.failure = { health: 'Failed', reason: 'SyncFailed', message: `reading runtime servers: ${errText(err)}` };
          }
        }),
      );
      const conflicts = [...new Set(instances.flatMap((i) => i.users?.conflicts ?? []))];
      if (conflicts.length > 0) {
        const note = `users ${conflicts.join(', ')} exist in ProxySQL without this object's marker and were left alone`;
        this.events.event(asObject(sync), 'Warning', 'UserConflict', 'Sync', truncate(note));
      }
      const status = syncStatus(sync, instances, desired, paused, this.now());
      await this.writeStatus(sync, status, {
        servers: serversProblem ?? problemOf(instances, 'SERVERS', paused),
        users: usersProblem ?? problemOf(instances, 'USERS', paused),
      });
      // Retry soon while something may change by itself (a ProxySQL coming back, connections
      // draining); a conflict of configuration waits for the resync or a change of the object.
      const unsettled = instances.some(
        (i) => (i.failure && i.failure.reason !== 'HostgroupConflict') || (i.servers?.draining.length ?? 0) > 0,
      );
      return { requeueAfterMs: unsettled || serversProblem || usersProblem ? retryMs : resyncMs };
    } finally {
      await Promise.all(instances.map((i) => i.admin?.close()));
    }
  };

  private async observe(
    sync: ProxysqlSync,
    i: Instance,
    ref: ProxysqlSync['spec']['proxysql'][number],
    creds: Credentials,
    prev: ProxysqlInstanceStatus | undefined,
    desired: DesiredServers | undefined,
    fromPrimary: Promise<FromPrimary>,
  ): Promise<void> {
    const ns = sync.metadata.namespace!;
    const marker = markerOf(sync);
    const r = resolveInstance(ref, this.unit(ns, ref.unitRef?.name), 6032, this.opts.unitAddressing);
    if (!r.ok) {
      i.failure = { health: 'Unreachable', reason: r.reason, message: r.message };
      return;
    }
    i.address = addressOf(r.endpoint);
    try {
      i.admin = await ProxysqlAdmin.connect(
        { host: r.endpoint.host, port: r.endpoint.port, username: creds.username ?? 'admin', password: creds.password },
        this.opts.timeouts,
      );
    } catch (err) {
      const message = `cannot reach the admin interface at ${i.address}: ${errText(err)}`;
      i.failure = { health: 'Unreachable', reason: 'ProxysqlUnreachable', message };
      this.events.event(asObject(sync), 'Warning', 'ProxysqlUnreachable', 'Connect', `${i.name}: ${message}`);
      return;
    }
    try {
      i.version = await i.admin.version();
      if (desired) {
        const [rows, replicationHostgroups, pool] = await Promise.all([
          i.admin.servers(),
          i.admin.replicationHostgroups(),
          i.admin.connectionPool(),
        ]);
        i.servers = planServers(desired, { servers: rows, replicationHostgroups, pool }, marker);
        if (i.servers.conflict) {
          i.failure = { health: 'Failed', reason: 'HostgroupConflict', message: i.servers.conflict };
          this.events.event(asObject(sync), 'Warning', 'HostgroupConflict', 'Sync', `${i.name}: ${i.servers.conflict}`);
          return;
        }
        if (!this.isLoaded(sync, i.name, 'SERVERS', prev?.serversSynced)) i.reload.push('SERVERS');
      }
      const { users, variables } = await fromPrimary;
      if (desired && Object.keys(variables).length > 0) {
        i.variables = planVariables(variables, await i.admin.variables(Object.keys(variables)));
      }
      if (users) {
        i.users = planUsers(users.users, await i.admin.users(), marker);
        if (!this.isLoaded(sync, i.name, 'USERS', prev?.usersSynced)) i.reload.push('USERS');
      }
    } catch (err) {
      i.failure = { health: 'Failed', reason: 'SyncFailed', message: `reading the admin tables: ${errText(err)}` };
    }
  }

  private async act(sync: ProxysqlSync, i: Instance, ctx: ReconcileContext): Promise<void> {
    const changes = [...(i.servers?.changes ?? []), ...(i.variables?.changes ?? []), ...(i.users?.changes ?? [])];
    const reload = i.reload.filter((m) => pending(i, m as 'SERVERS' | 'USERS'));
    if (i.variables?.reload) reload.push('VARIABLES');
    const modules = (['SERVERS', 'USERS'] as const).filter((m) => pending(i, m));
    this.setLoaded(sync, i.name, modules, false);
    try {
      await i.admin!.apply(changes, reload);
      i.applied = true;
      this.setLoaded(sync, i.name, modules, true);
    } catch (err) {
      const message = `applying ${changes.length} change(s): ${errText(err)}`;
      i.failure = { health: 'Failed', reason: 'SyncFailed', message };
      this.events.event(asObject(sync), 'Warning', 'SyncFailed', 'Apply', `${i.name}: ${message}`);
      return;
    }
    ctx.log?.info({ proxysql: i.name, changes: changes.length, reload }, 'proxysql configuration applied');
  }

  /**
   * One Event per kind of change for the whole pass, naming the instances (usually every instance
   * gets the same changes): WriterChanged when the writer hostgroup moved to another server,
   * ServersChanged for other server changes, UsersChanged.
   */
  private recordChanges(sync: ProxysqlSync, applied: Instance[]): void {
    const grouped = (note: (i: Instance) => string | undefined) => {
      const byNote = new Map<string, string[]>();
      for (const i of applied) {
        const n = note(i);
        if (n) byNote.set(n, [...(byNote.get(n) ?? []), i.name]);
      }
      return [...byNote].map(([n, names]) => `${names.join(', ')}: ${n}`).join(' | ');
    };
    const servers = grouped((i) => {
      const notes = [...(i.servers?.notes ?? []), ...(i.variables?.notes ?? [])];
      return notes.length > 0 ? notes.join('; ') : undefined;
    });
    if (servers) {
      const reason = applied.some((i) => i.servers?.writerChanged) ? 'WriterChanged' : 'ServersChanged';
      this.events.event(asObject(sync), 'Normal', reason, 'Sync', truncate(servers));
    }
    const users = grouped((i) => {
      const u = i.users;
      return u && u.changes.length > 0
        ? `added ${u.added}, updated ${u.updated}, removed ${u.removed} user(s)`
        : undefined;
    });
    if (users) this.events.event(asObject(sync), 'Normal', 'UsersChanged', 'Sync', truncate(users));
  }

  private loadedEntry(sync: ProxysqlSync, instance: string) {
    const key = `${sync.metadata.namespace}/${sync.metadata.name}/${instance}`;
    const entry = this.loaded.get(key);
    return { key, entry: entry?.uid === sync.metadata.uid ? entry : undefined };
  }

  private isLoaded(sync: ProxysqlSync, instance: string, module: AdminModule, flag: boolean | undefined): boolean {
    const { entry } = this.loadedEntry(sync, instance);
    return entry ? entry.modules.has(module) : flag === true;
  }

  private setLoaded(sync: ProxysqlSync, instance: string, modules: readonly AdminModule[], loaded: boolean): void {
    const { key, entry } = this.loadedEntry(sync, instance);
    const e = entry ?? { uid: sync.metadata.uid ?? '', modules: new Set<AdminModule>(['SERVERS', 'USERS']) };
    for (const m of modules) {
      if (loaded) e.modules.add(m);
      else e.modules.delete(m);
    }
    this.loaded.set(key, e);
  }

  private unit(ns: string, name: string | undefined): Unit | undefined {
    return name ? (this.caches.units.get(ns, name) as unknown as Unit | undefined) : undefined;
  }

  private async credentials(ns: string, ref: CredentialsRef) {
    let secret: { data?: Record<string, string> } | undefined;
    try {
      secret = (await this.client.get(secrets, ns, ref.name)) as unknown as { data?: Record<string, string> };
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    return credentialsFrom(ref, secret);
  }

  /** The primary's version and, with a rule, its accounts. */
  private async readPrimary(
    sync: ProxysqlSync,
    mr: MysqlReplication,
    desired: DesiredServers | undefined,
    endpoints: Map<string, Endpoint>,
    rule: UserSettings | undefined,
  ): Promise<AccountsSnapshot | Problem> {
    if (!desired) return { reason: 'NoPrimary', message: 'no primary to read the MySQL accounts from' };
    const ref = sync.spec.credentials.mysql ?? mr.spec.credentials.admin;
    const creds = await this.credentials(sync.metadata.namespace!, ref);
    if (!creds.ok) return { reason: creds.reason, message: `MySQL credentials: ${creds.message}` };
    const at = endpoints.get(desired.primary)!;
    try {
      const { username, password } = creds.credentials;
      return await readAccounts({ host: at.host, port: at.port, user: username, password }, rule, this.opts.timeouts);
    } catch (err) {
      const message = `reading mysql.user on ${desired.primary} (${addressOf(at)}): ${errText(err)}`;
      return { reason: 'AccountsUnavailable', message };
    }
  }

  private async writeStatus(
    sync: ProxysqlSync,
    status: ProxysqlSyncStatus,
    problems: { servers?: Problem; users?: Problem },
  ): Promise<void> {
    const next = withConditions(sync, status, problems, this.now());
    await this.client.applyStatus(proxysqlSyncs, sync, next, proxysqlSyncFieldManager);
  }
}

const truncate = (s: string, n = 1000) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

const errText = (err: unknown): string => (err as Error).message ?? String(err);
