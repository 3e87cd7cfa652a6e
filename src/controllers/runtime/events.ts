// An event recorder like client-go's tools/events: one Event per distinct occurrence (type, reason,
// action, reporter, regarding, related; the note is not part of the key), later repeats counted in
// `series` (count, lastObservedTime) and written at most every `seriesWriteMs`, keys kept in a
// bounded LRU. It writes events.k8s.io/v1 where the server serves it and core/v1 Events otherwise
// (the same object under kube's older field names: involvedObject, message, count, source), so
// `kubectl describe` shows them on a cluster and in local mode alike. Recording never throws:
// a failed write is logged, as a lost event must not fail a reconcile.

import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { formatMicroTime, formatTime } from '../../machinery/time.js';
import type { KubeObject } from '../../machinery/object.js';
import type { KubeClient, ResourceType } from './client.js';

export type EventType = 'Normal' | 'Warning';

export interface EventRecorder {
  event(
    regarding: KubeObject,
    type: EventType,
    reason: string,
    action: string,
    note: string,
    related?: KubeObject,
  ): void;
}

const eventsV1: ResourceType = {
  group: 'events.k8s.io',
  version: 'v1',
  resource: 'events',
  kind: 'Event',
  namespaced: true,
};
const coreV1: ResourceType = { group: '', version: 'v1', resource: 'events', kind: 'Event', namespaced: true };

interface Series {
  name: string;
  namespace: string;
  count: number;
  written: number;
  lastWrite: number;
  timer?: NodeJS.Timeout;
  api: ResourceType;
  lastNote: string;
}

function reference(obj: KubeObject) {
  return {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    namespace: obj.metadata.namespace,
    name: obj.metadata.name,
    uid: obj.metadata.uid,
    resourceVersion: obj.metadata.resourceVersion,
  };
}

export interface RecorderOptions {
  /** `reportingController`, e.g. `upm.io/unitset-controller`. */
  controller: string;
  /** `reportingInstance`, e.g. `<controller>-<hostname>`. */
  instance: string;
  log?: Logger;
  seriesWriteMs?: number;
  maxKeys?: number;
}

export class Recorder implements EventRecorder {
  private readonly series = new Map<string, Series>();
  private api: Promise<ResourceType> | undefined;
  /** Writes in flight (tests await them). */
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly client: KubeClient,
    private readonly opts: RecorderOptions,
  ) {}

  event(
    regarding: KubeObject,
    type: EventType,
    reason: string,
    action: string,
    note: string,
    related?: KubeObject,
  ): void {
    const namespace = regarding.metadata.namespace || 'default';
    const key = JSON.stringify([type, reason, action, regarding.metadata.uid, related?.metadata.uid, namespace]);
    const existing = this.series.get(key);
    if (existing) {
      this.series.delete(key);
      this.series.set(key, existing); // LRU: most recent last
      existing.count++;
      existing.lastNote = note;
      this.scheduleSeriesWrite(existing);
      return;
    }
    const name = `${regarding.metadata.name}.${Date.now().toString(16)}${randomBytes(2).toString('hex')}`;
    const s: Series = { name, namespace, count: 1, written: 1, lastWrite: Date.now(), api: eventsV1, lastNote: note };
    this.series.set(key, s);
    while (this.series.size > (this.opts.maxKeys ?? 4096)) {
      const oldest = this.series.keys().next().value as string;
      clearTimeout(this.series.get(oldest)?.timer);
      this.series.delete(oldest);
    }
    this.track(
      (async () => {
        s.api = await this.eventAPI();
        const now = new Date();
        const body =
          s.api === eventsV1
            ? {
                apiVersion: 'events.k8s.io/v1',
                kind: 'Event',
                metadata: { name, namespace },
                eventTime: formatMicroTime(now),
                type,
                reason,
                action,
                note: note.slice(0, 1024),
                regarding: reference(regarding),
                ...(related ? { related: reference(related) } : {}),
                reportingController: this.opts.controller,
                reportingInstance: this.opts.instance.slice(0, 128),
              }
            : {
                apiVersion: 'v1',
                kind: 'Event',
                metadata: { name, namespace },
                type,
                reason,
                action,
                message: note.slice(0, 1024),
                involvedObject: reference(regarding),
                ...(related ? { related: reference(related) } : {}),
                reportingComponent: this.opts.controller,
                reportingInstance: this.opts.instance.slice(0, 128),
                source: { component: this.opts.controller },
                firstTimestamp: formatTime(now),
                lastTimestamp: formatTime(now),
                eventTime: formatMicroTime(now),
                count: 1,
              };
        await this.client.create(s.api, body as unknown as KubeObject);
      })(),
    );
  }

  /** Resolves when every write started so far has finished (for tests and shutdown). */
  async flush(): Promise<void> {
    for (const s of this.series.values()) {
      if (s.timer) {
        clearTimeout(s.timer);
        s.timer = undefined;
        this.writeSeries(s);
      }
    }
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private scheduleSeriesWrite(s: Series): void {
    if (s.timer) return;
    const wait = Math.max(0, s.lastWrite + (this.opts.seriesWriteMs ?? 10_000) - Date.now());
    s.timer = setTimeout(() => {
      s.timer = undefined;
      this.writeSeries(s);
    }, wait);
    s.timer.unref?.();
  }

  private writeSeries(s: Series): void {
    if (s.count === s.written) return;
    s.written = s.count;
    s.lastWrite = Date.now();
    const now = new Date();
    const patch =
      s.api === eventsV1
        ? { series: { count: s.count, lastObservedTime: formatMicroTime(now) } }
        : {
            count: s.count,
            lastTimestamp: formatTime(now),
            message: s.lastNote.slice(0, 1024),
            series: { count: s.count, lastObservedTime: formatMicroTime(now) },
          };
    this.track(this.client.patch(s.api, s.namespace, s.name, patch, 'merge').then(() => undefined));
  }

  private track(p: Promise<void>): void {
    const tracked = p.catch((err: unknown) => {
      this.opts.log?.warn({ err: (err as Error).message }, 'event not recorded');
    });
    this.pending.add(tracked);
    void tracked.finally(() => this.pending.delete(tracked));
  }

  private eventAPI(): Promise<ResourceType> {
    this.api ??= this.client.request<{ resources?: { name: string }[] }>('GET', '/apis/events.k8s.io/v1').then(
      (list) => (list.resources?.some((r) => r.name === 'events') ? eventsV1 : coreV1),
      () => coreV1,
    );
    return this.api;
  }
}
