// Events as client-go's recorder writes them (tools/record): named `<object>.<hex UnixNano>`, a
// repeat of the same event patched with count+1 and a new lastTimestamp (kubectl describe shows
// `(x3 over 40s)`), writes in order in the background.

import type { CoreV1Api } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { formatTime } from '../../machinery/time.js';
import { mergePatch } from './client.js';

type Obj = Record<string, any>;

export interface EventSource {
  component: string;
  host?: string;
}

export class EventRecorder {
  private chain: Promise<void> = Promise.resolve();
  /** Aggregation key → the stored event's name and count. */
  private readonly seen = new Map<string, { name: string; namespace: string; count: number }>();
  private sequence = 0;

  constructor(
    private readonly api: CoreV1Api,
    private readonly source: EventSource,
    private readonly log?: Logger,
  ) {}

  /** Records an event about `involved` (a Pod, Node, PVC...), optionally about one of its containers. */
  record(involved: Obj, type: 'Normal' | 'Warning', reason: string, message: string, fieldPath?: string): void {
    const meta = involved['metadata'] ?? {};
    const namespace: string = meta.namespace || 'default';
    const kind: string = involved['kind'] ?? 'Pod';
    const key = [kind, namespace, meta.name, meta.uid, fieldPath ?? '', type, reason, message].join('\u0000');
    const now = formatTime();
    let entry = this.seen.get(key);
    const create = entry === undefined;
    if (!entry) {
      this.sequence = (this.sequence + 1) % 1_000_000;
      const name = `${meta.name}.${(BigInt(Date.now()) * 1_000_000n + BigInt(this.sequence)).toString(16)}`;
      entry = { name, namespace, count: 0 };
      this.seen.set(key, entry);
    }
    entry.count++;
    const { name, count } = entry;
    this.chain = this.chain.then(async () => {
      try {
        if (!create) {
          await this.api.patchNamespacedEvent({ namespace, name, body: { count, lastTimestamp: now } }, mergePatch());
          return;
        }
        await this.api.createNamespacedEvent({
          namespace,
          body: {
            apiVersion: 'v1',
            kind: 'Event',
            metadata: { name, namespace },
            involvedObject: {
              apiVersion: involved['apiVersion'] ?? 'v1',
              kind,
              name: meta.name,
              ...(meta.namespace ? { namespace: meta.namespace } : {}),
              ...(meta.uid ? { uid: meta.uid } : {}),
              ...(meta.resourceVersion ? { resourceVersion: meta.resourceVersion } : {}),
              ...(fieldPath ? { fieldPath } : {}),
            },
            reason,
            message,
            source: { component: this.source.component, ...(this.source.host ? { host: this.source.host } : {}) },
            firstTimestamp: now,
            lastTimestamp: now,
            count: 1,
            type,
            reportingComponent: this.source.component,
            reportingInstance: this.source.host ?? '',
          } as never,
        });
      } catch (err) {
        this.seen.delete(key);
        this.log?.debug({ err, reason }, 'event not recorded');
      }
    });
    if (this.seen.size > 4096) this.seen.clear();
  }

  /** Resolves once every event recorded so far is written. */
  flush(): Promise<void> {
    return this.chain;
  }
}
