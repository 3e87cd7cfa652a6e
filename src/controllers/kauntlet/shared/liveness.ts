// One long-lived connection per object to the server it depends on most (its primary), so that a
// server that dies is noticed when its socket closes rather than at the next periodic look. A
// closed connection only says "look now": the reconciler's observation decides what happened.
// Servers that stop answering without closing (a lost host) are still found by the periodic look.

import type { ExternalSource, Request } from '../../runtime/controller.js';

/** An open connection to a server; `closed` settles when it ends for any reason. */
export interface LivenessProbe {
  readonly closed: Promise<void>;
  close(): Promise<void>;
}

interface Entry {
  id: string;
  probe?: LivenessProbe;
}

export class LivenessWatches<Target> implements ExternalSource {
  private readonly entries = new Map<string, Entry>();
  private readonly opening = new Set<Promise<unknown>>();
  private enqueue: ((req: Request) => void) | undefined;
  private stopped = false;

  constructor(
    private readonly open: (target: Target) => Promise<LivenessProbe>,
    /** Two targets with the same id are the same server reached the same way. */
    private readonly identify: (target: Target) => string,
  ) {}

  start(enqueue: (req: Request) => void): void {
    this.enqueue = enqueue;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const entries = [...this.entries.values()];
    this.entries.clear();
    await Promise.allSettled([...this.opening]);
    await Promise.all(entries.map((e) => e.probe?.close()));
  }

  /** How many servers are watched (for tests and metrics). */
  get size(): number {
    return this.entries.size;
  }

  /**
   * Watches `target` on behalf of `req`, replacing what it watched before; stops watching when
   * `target` is undefined. A connection that cannot be opened is not retried here: the
   * reconciler calls again after its next observation.
   */
  track(req: Request, target: Target | undefined): void {
    const key = `${req.namespace}/${req.name}`;
    const id = target === undefined ? undefined : this.identify(target);
    const current = this.entries.get(key);
    if (current && current.id === id) return;
    if (current) {
      this.entries.delete(key);
      void current.probe?.close();
    }
    if (target === undefined || id === undefined || this.stopped) return;
    const entry: Entry = { id };
    this.entries.set(key, entry);
    const opening = this.open(target).then(
      (probe) => {
        if (this.entries.get(key) !== entry) return void probe.close();
        entry.probe = probe;
        void probe.closed.then(() => {
          if (this.entries.get(key) !== entry) return;
          this.entries.delete(key);
          this.enqueue?.(req);
        });
      },
      () => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      },
    );
    this.opening.add(opening);
    void opening.finally(() => this.opening.delete(opening));
  }
}
