import { WorkQueue } from './workqueue.js';

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

describe('WorkQueue', () => {
  it('queues a key once however often it is added before a worker takes it', async () => {
    const q = new WorkQueue<string>();
    q.add('a');
    q.add('b');
    q.add('a');
    expect(q.length).toBe(2);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
  });

  it('never hands a key to two workers; a key added while processed runs once more after', async () => {
    const q = new WorkQueue<string>();
    q.add('a');
    const first = await q.get();
    q.add('a');
    q.add('a');
    // A second worker waiting now gets nothing while 'a' is in progress.
    let second: string | undefined;
    void q.get().then((k) => (second = k));
    await tick(5);
    expect(second).toBeUndefined();
    q.done(first!);
    await tick();
    expect(second).toBe('a');
  });

  it('is idle once nothing is queued or in processing; delayed keys do not count', async () => {
    const q = new WorkQueue<string>();
    await q.idle();
    q.add('a');
    q.addAfter('later', 60_000);
    let idle = false;
    void q.idle().then(() => (idle = true));
    const key = await q.get();
    await tick();
    expect(idle).toBe(false);
    q.add('a'); // re-added while processed: runs again before the queue is idle
    q.done(key!);
    await tick();
    expect(idle).toBe(false);
    q.done((await q.get())!);
    await tick();
    expect(idle).toBe(true);
    await q.shutdown();
  });

  it('keeps the earliest ready time of a delayed key, and add() makes it ready at once', async () => {
    const q = new WorkQueue<string>();
    q.addAfter('a', 200);
    q.addAfter('a', 20);
    q.addAfter('a', 500);
    const t0 = Date.now();
    expect(await q.get()).toBe('a');
    expect(Date.now() - t0).toBeLessThan(150);
    q.done('a');
    q.addAfter('b', 10_000);
    q.add('b');
    expect(await q.get()).toBe('b');
  });

  it('backs off failing keys exponentially per key and forgets on success', () => {
    const q = new WorkQueue<string>(undefined, { baseDelayMs: 5, maxDelayMs: 1_000_000 });
    expect([0, 1, 2, 3, 17, 18, 40].map((n) => q.backoff(n))).toEqual([5, 10, 20, 40, 655_360, 1_000_000, 1_000_000]);
    q.addRateLimited('a');
    q.addRateLimited('a');
    expect(q.numRequeues('a')).toBe(2);
    expect(q.numRequeues('b')).toBe(0);
    q.forget('a');
    expect(q.numRequeues('a')).toBe(0);
  });

  it('shuts down: waiting getters get undefined, and drain waits for keys in progress', async () => {
    const q = new WorkQueue<string>();
    q.add('a');
    const key = await q.get();
    const waiting = q.get();
    let drained = false;
    const shutdown = q.shutdown(true).then(() => (drained = true));
    expect(await waiting).toBeUndefined();
    await tick(5);
    expect(drained).toBe(false);
    q.add('late'); // ignored during shutdown
    q.done(key!);
    await shutdown;
    expect(drained).toBe(true);
    expect(await q.get()).toBeUndefined();
  });
});
