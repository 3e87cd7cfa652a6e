// Main-thread side of the load worker.

import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { DeliveredEvent, FromWorker, Job, JobResults, ToWorker } from './protocol.js';

export class LoadWorker extends EventEmitter<{ delivered: [DeliveredEvent] }> {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  constructor() {
    super();
    this.worker = new Worker(new URL('./load-worker.js', import.meta.url));
    this.worker.on('message', (msg: FromWorker) => {
      if ('event' in msg) {
        this.emit('delivered', msg);
        return;
      }
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new Error(`load worker: ${msg.error}`));
    });
    this.worker.on('error', (err) => {
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    });
  }

  run<J extends Job>(job: J): Promise<JobResults[J['kind']]> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ id, job } satisfies ToWorker);
    });
  }

  async terminate(): Promise<void> {
    await this.worker.terminate();
  }
}
