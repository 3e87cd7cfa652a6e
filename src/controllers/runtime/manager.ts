// The manager runs a set of controllers as one process: shared informers (one per resource,
// started before the election so a standby is warm), leader election on a Lease (controllers run
// only while leading; losing the lease stops the process, as controller-runtime's does), event
// recorders, and an HTTP endpoint with /healthz, /readyz and /metrics.

import http from 'node:http';
import os from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { KubeClient, ResourceType } from './client.js';
import type { Controller } from './controller.js';
import { Recorder } from './events.js';
import { Informer, type InformerOptions } from './informer.js';
import { LeaderElector } from './leaderelection.js';
import { ControllerMetrics } from './metrics.js';

export interface ManagerOptions {
  client: KubeClient;
  log?: Logger;
  /** Lease for leader election; false runs the controllers at once (tests, a single replica). */
  leaderElection?:
    | false
    | {
        namespace: string;
        name: string;
        identity?: string;
        leaseDurationMs?: number;
        renewDeadlineMs?: number;
        retryPeriodMs?: number;
      };
  /** Address of /healthz, /readyz and /metrics; undefined serves none. */
  probeAddress?: { host: string; port: number };
  /** Called when the leader loses its lease: the process should exit. */
  onLeaderLost?: () => void;
  informerDefaults?: Omit<InformerOptions, 'namespace' | 'labelSelector' | 'fieldSelector'>;
}

export class Manager {
  readonly metrics = new ControllerMetrics();
  readonly identity: string;
  private readonly informers = new Map<string, Informer>();
  private readonly controllers: Controller[] = [];
  private readonly recorders: Recorder[] = [];
  private elector: LeaderElector | undefined;
  private server: http.Server | undefined;
  private controllersStarted = false;
  private stopped = false;

  constructor(private readonly opts: ManagerOptions) {
    this.identity =
      (opts.leaderElection && opts.leaderElection.identity) || `${os.hostname()}_${randomUUID().slice(0, 8)}`;
  }

  get client(): KubeClient {
    return this.opts.client;
  }

  get log(): Logger | undefined {
    return this.opts.log;
  }

  /** The shared informer of `type` (one per resource and selection, whoever asks). */
  informer(
    type: ResourceType,
    opts: Pick<InformerOptions, 'namespace' | 'labelSelector' | 'fieldSelector'> = {},
  ): Informer {
    const key = JSON.stringify([type.group, type.version, type.resource, opts.namespace, opts.labelSelector]);
    let inf = this.informers.get(key);
    if (!inf) {
      inf = new Informer(this.opts.client, type, { ...this.opts.informerDefaults, ...opts, log: this.opts.log });
      this.informers.set(key, inf);
    }
    return inf;
  }

  add(controller: Controller): void {
    this.controllers.push(controller);
  }

  recorder(controller: string): Recorder {
    const r = new Recorder(this.opts.client, {
      controller,
      instance: `${controller.split('/').pop()}-${this.identity}`,
      log: this.opts.log,
    });
    this.recorders.push(r);
    return r;
  }

  isLeader(): boolean {
    return this.opts.leaderElection === false ? true : (this.elector?.isLeader() ?? false);
  }

  async start(): Promise<void> {
    if (this.opts.probeAddress) await this.serve(this.opts.probeAddress);
    for (const inf of this.informers.values()) inf.start();
    if (this.opts.leaderElection === false || this.opts.leaderElection === undefined) {
      await this.startControllers();
      return;
    }
    const le = this.opts.leaderElection;
    this.metrics.leaderStatus.set({ name: le.name }, 0);
    this.elector = new LeaderElector(this.opts.client, {
      ...le,
      identity: this.identity,
      log: this.opts.log,
      onSlowPath: () => this.metrics.leaderSlowpath.inc({ name: le.name }),
      onStartedLeading: () => {
        this.metrics.leaderStatus.set({ name: le.name }, 1);
        this.startControllers().catch((err: unknown) => {
          this.opts.log?.error({ err: (err as Error).message }, 'controllers failed to start');
          this.opts.onLeaderLost?.();
        });
      },
      onStoppedLeading: () => {
        this.metrics.leaderStatus.set({ name: le.name }, 0);
        if (!this.stopped) {
          this.opts.log?.error('leader election lost; stopping');
          this.opts.onLeaderLost?.();
        }
      },
    });
    this.elector.start();
  }

  /** Address the probe server listens on (after start). */
  probePort(): number | undefined {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : undefined;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.controllers.map((c) => c.stop()));
    await this.elector?.stop();
    await Promise.all(this.recorders.map((r) => r.flush()));
    await Promise.all([...this.informers.values()].map((i) => i.stop()));
    if (this.server) await new Promise<void>((r) => this.server!.close(() => r()));
  }

  private async startControllers(): Promise<void> {
    if (this.controllersStarted || this.stopped) return;
    this.controllersStarted = true;
    await Promise.all(this.controllers.map((c) => c.start()));
  }

  private ready(): boolean {
    return [...this.informers.values()].every((i) => i.hasSynced());
  }

  private serve(addr: { host: string; port: number }): Promise<void> {
    this.server = http.createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path === '/healthz' || path === '/livez') {
        res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok');
      } else if (path === '/readyz') {
        const ok = this.ready();
        res.writeHead(ok ? 200 : 500, { 'Content-Type': 'text/plain' }).end(ok ? 'ok' : 'informers not synced');
      } else if (path === '/metrics') {
        this.metrics.registry.metrics().then(
          (text) => res.writeHead(200, { 'Content-Type': this.metrics.registry.contentType }).end(text),
          (err: unknown) => res.writeHead(500).end(String(err)),
        );
      } else res.writeHead(404).end('not found');
    });
    return new Promise((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(addr.port, addr.host, () => resolve());
    });
  }
}
