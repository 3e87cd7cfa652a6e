// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it:
// expiry is judged only from when *we* saw the record change (tolerant of clock skew between
// hosts); every write carries the resourceVersion read, so two candidates racing for the same
// Lease get one success and one 409. The leader renews every `retryPeriodMs` and gives up when it
// has not renewed within `renewDeadlineMs` (then `onStoppedLeading`; the manager exits, as
// controller-runtime's does). On a clean stop it releases the Lease (holder cleared) so a standby
// takes over at its next retry instead of after `leaseDurationMs`.

import type { Logger } from 'pino';
import { isAlreadyExists, isConflict, isNotFound } from '../../machinery/errors.js';
import type { KubeObject } from '../../machinery/object.js';
import { formatMicroTime } from '../../machinery/time.js';
import type { KubeClient, ResourceType } from './client.js';
import { sleep } from './sleep.js';

export const leaseType: ResourceType = {
  group: 'coordination.k8s.io',
  version: 'v1',
  resource: 'leases',
  kind: 'Lease',
  namespaced: true,
};

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  releaseOnCancel?: boolean;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
  onNewLeader?: (identity: string) => void;
  log?: Logger;
  /** Counts renewals that needed a read (leader_election_slowpath_total). */
  onSlowPath?: () => void;
}

interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number;
  acquireTime?: string | null;
  renewTime?: string | null;
  leaseTransitions?: number;
}

export class LeaderElector {
  private readonly stopSignal = new AbortController();
  private lease: KubeObject | undefined;
  private observedRecord = '';
  private observedAt = 0;
  private leading = false;
  private lastRenew = 0;
  private running: Promise<void> | undefined;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;

  constructor(
    private readonly client: KubeClient,
    private readonly opts: LeaderElectionOptions,
  ) {
    this.leaseDurationMs = opts.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = opts.retryPeriodMs ?? 2_000;
    if (!(this.leaseDurationMs > this.renewDeadlineMs && this.renewDeadlineMs > 1.2 * this.retryPeriodMs))
      throw new Error('leader election needs leaseDuration > renewDeadline > 1.2 × retryPeriod');
    if (!opts.identity) throw new Error('leader election needs an identity');
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** The holder as last observed ('' when none). */
  get holder(): string {
    return ((this.lease?.['spec'] as LeaseSpec | undefined)?.holderIdentity as string) ?? '';
  }

  start(): void {
    this.running ??= this.run();
  }

  /** Stops campaigning; a leader releases the Lease (when releaseOnCancel) and stops leading. */
  async stop(): Promise<void> {
    this.stopSignal.abort();
    await this.running;
  }

  private async run(): Promise<void> {
    const signal = this.stopSignal.signal;
    // acquire
    while (!signal.aborted && !this.leading) {
      if (await this.tryAcquireOrRenew()) break;
      await sleep(this.retryPeriodMs * (1 + Math.random() * 1.2), signal);
    }
    if (signal.aborted) return;
    this.leading = true;
    this.lastRenew = Date.now();
    this.opts.log?.info({ lease: this.opts.name, identity: this.opts.identity }, 'became leader');
    this.opts.onStartedLeading();
    // renew
    while (!signal.aborted) {
      await sleep(this.retryPeriodMs, signal);
      if (signal.aborted) break;
      const ok = await this.tryAcquireOrRenew();
      if (ok) this.lastRenew = Date.now();
      else if (Date.now() - this.lastRenew > this.renewDeadlineMs) {
        this.leading = false;
        this.opts.log?.error({ lease: this.opts.name }, 'leader election lost');
        this.opts.onStoppedLeading();
        return;
      }
    }
    if (this.leading && (this.opts.releaseOnCancel ?? true)) await this.release();
    this.leading = false;
    this.opts.onStoppedLeading();
  }

  /** One attempt; true when we hold the Lease afterwards. Never throws. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = new Date();
    const nowMicro = formatMicroTime(now);
    try {
      // Fast path: we lead and our copy is current.
      if (this.leading && this.lease) {
        try {
          const spec = this.lease['spec'] as LeaseSpec;
          this.lease = await this.put({ ...this.lease, spec: { ...spec, renewTime: nowMicro } });
          this.observe(this.lease);
          return true;
        } catch (err) {
          this.opts.onSlowPath?.();
          if (!isConflict(err)) this.opts.log?.warn({ err: (err as Error).message }, 'lease renew failed');
        }
      }
      let current: KubeObject;
      try {
        current = await this.client.get(leaseType, this.opts.namespace, this.opts.name);
      } catch (err) {
        if (!isNotFound(err)) throw err;
        const created = await this.client.create(leaseType, {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: this.opts.name, namespace: this.opts.namespace },
          spec: this.spec(nowMicro, nowMicro, 0),
        });
        this.lease = created;
        this.observe(created);
        return true;
      }
      this.observe(current);
      const spec = (current['spec'] ?? {}) as LeaseSpec;
      const holder = spec.holderIdentity ?? '';
      const held = holder !== '' && holder !== this.opts.identity;
      const durationMs = (spec.leaseDurationSeconds ?? this.leaseDurationMs / 1000) * 1000;
      if (held && this.observedAt + durationMs > Date.now()) return false;
      const takingOver = holder !== this.opts.identity;
      const next = this.spec(
        takingOver ? nowMicro : (spec.acquireTime ?? nowMicro),
        nowMicro,
        (spec.leaseTransitions ?? 0) + (takingOver && holder !== '' ? 1 : 0),
      );
      this.lease = await this.put({ ...current, spec: next });
      this.observe(this.lease);
      return true;
    } catch (err) {
      if (!isConflict(err) && !isAlreadyExists(err))
        this.opts.log?.warn({ err: (err as Error).message }, 'lease acquire/renew failed');
      return false;
    }
  }

  private spec(acquireTime: string, renewTime: string, leaseTransitions: number): LeaseSpec {
    return {
      holderIdentity: this.opts.identity,
      leaseDurationSeconds: Math.round(this.leaseDurationMs / 1000),
      acquireTime,
      renewTime,
      leaseTransitions,
    };
  }

  private put(lease: KubeObject): Promise<KubeObject> {
    // One hung request must not cost the lease: time out within half the renew deadline.
    return this.client.request('PUT', this.client.path(leaseType, this.opts.namespace, this.opts.name), {
      body: lease,
      timeoutMs: Math.max(1000, this.renewDeadlineMs / 2),
    });
  }

  private observe(lease: KubeObject): void {
    const record = JSON.stringify(lease['spec'] ?? {});
    if (record !== this.observedRecord) {
      const before = (JSON.parse(this.observedRecord || '{}') as LeaseSpec).holderIdentity;
      this.observedRecord = record;
      this.observedAt = Date.now();
      const holder = (lease['spec'] as LeaseSpec | undefined)?.holderIdentity ?? '';
      if (holder && holder !== before) this.opts.onNewLeader?.(holder);
    }
    this.lease = lease;
  }

  private async release(): Promise<void> {
    if (!this.lease) return;
    const now = formatMicroTime();
    const spec = this.lease['spec'] as LeaseSpec;
    try {
      await this.put({
        ...this.lease,
        spec: { ...spec, holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now },
      });
    } catch (err) {
      this.opts.log?.warn({ err: (err as Error).message }, 'lease release failed');
    }
  }
}
