import { LivenessWatches, type LivenessProbe } from './liveness.js';

interface FakeProbe extends LivenessProbe {
  target: string;
  lose(): void;
  closedHere: boolean;
}

function setup() {
  const opened: FakeProbe[] = [];
  const refuse = new Set<string>();
  const watches = new LivenessWatches<string>(
    async (target) => {
      if (refuse.has(target)) throw new Error(`${target}: connection refused`);
      let lose!: () => void;
      const closed = new Promise<void>((r) => (lose = r));
      const probe: FakeProbe = {
        target,
        closed,
        closedHere: false,
        lose,
        async close() {
          probe.closedHere = true;
          lose();
        },
      };
      opened.push(probe);
      return probe;
    },
    (t) => t,
  );
  const enqueued: string[] = [];
  watches.start((req) => enqueued.push(`${req.namespace}/${req.name}`));
  return { watches, opened, refuse, enqueued };
}

const tick = () => new Promise((r) => setImmediate(r));
const orders = { namespace: 'default', name: 'orders' };

describe('LivenessWatches', () => {
  it('asks for a look when the watched server closes the connection, once', async () => {
    const { watches, opened, enqueued } = setup();
    watches.track(orders, 'db-0:3306');
    watches.track(orders, 'db-0:3306');
    await tick();
    expect(opened.map((p) => p.target)).toEqual(['db-0:3306']);
    opened[0].lose();
    await tick();
    expect(enqueued).toEqual(['default/orders']);
    expect(watches.size).toBe(0);
    // The next observation finds the server back: watched again.
    watches.track(orders, 'db-0:3306');
    await tick();
    expect(opened).toHaveLength(2);
  });

  it('closes the old connection without a look when the primary moves or the object goes', async () => {
    const { watches, opened, enqueued } = setup();
    watches.track(orders, 'db-0:3306');
    await tick();
    watches.track(orders, 'db-1:3306');
    await tick();
    expect(opened.map((p) => [p.target, p.closedHere])).toEqual([
      ['db-0:3306', true],
      ['db-1:3306', false],
    ]);
    watches.track(orders, undefined);
    await tick();
    expect(opened[1].closedHere).toBe(true);
    expect(enqueued).toEqual([]);
    expect(watches.size).toBe(0);
  });

  it('leaves a refused connection to the next observation', async () => {
    const { watches, refuse, enqueued } = setup();
    refuse.add('db-0:3306');
    watches.track(orders, 'db-0:3306');
    await tick();
    expect(enqueued).toEqual([]);
    expect(watches.size).toBe(0);
  });

  it('a connection that opens after the target changed is closed at once', async () => {
    const { watches, opened } = setup();
    watches.track(orders, 'db-0:3306');
    watches.track(orders, 'db-1:3306'); // before db-0's open settled
    await tick();
    expect(opened.find((p) => p.target === 'db-0:3306')?.closedHere).toBe(true);
    expect(opened.find((p) => p.target === 'db-1:3306')?.closedHere).toBe(false);
  });

  it('stop closes every connection and watches nothing more', async () => {
    const { watches, opened, enqueued } = setup();
    watches.track(orders, 'db-0:3306');
    watches.track({ namespace: 'default', name: 'billing' }, 'db-5:3306');
    await watches.stop();
    expect(opened.every((p) => p.closedHere)).toBe(true);
    watches.track(orders, 'db-0:3306');
    await tick();
    expect(opened).toHaveLength(2);
    expect(enqueued).toEqual([]);
  });
});
