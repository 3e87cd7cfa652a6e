// Concurrent conflicting updates: 20 clients read the same object and each writes its own change
// with the resourceVersion it read. Every update is either applied or answered 409; nothing is
// applied twice or lost.

import { apiClient, cleanup, startEngine, type Engine } from './harness.js';

const path = '/apis/upm.io/v1alpha1/namespaces/default/unitsets';

describe('concurrent conflicting updates', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await startEngine();
  }, 60_000);
  afterAll(async () => {
    await engine?.stop();
    if (engine) cleanup(engine);
  });

  it('from 20 clients end with each update either applied or answered 409', async () => {
    const call = apiClient(engine);
    const created = await call('POST', path, {
      body: {
        apiVersion: 'upm.io/v1alpha1',
        kind: 'UnitSet',
        metadata: { name: 'contended', annotations: {} },
        spec: { type: 'redis', version: '7.0.15', units: 1000 },
      },
    });
    expect(created.status).toBe(201);
    const applied: number[] = [];
    let conflicts = 0;
    for (let round = 0; round < 5; round++) {
      const results = await Promise.all(
        Array.from({ length: 20 }, async (_, client) => {
          const current = (await call('GET', `${path}/contended`)).json();
          current.metadata.annotations = {
            ...(current.metadata.annotations ?? {}),
            [`client-${client}`]: String(round),
          };
          current.spec.units = round * 20 + client + 1;
          const res = await call('PUT', `${path}/contended`, { body: current });
          return { client, res };
        }),
      );
      for (const { client, res } of results) {
        if (res.status === 200) applied.push(round * 20 + client + 1);
        else {
          expect(res.status).toBe(409);
          expect(res.json()).toMatchObject({ kind: 'Status', reason: 'Conflict', code: 409 });
          expect(res.json().message).toContain('the object has been modified');
          conflicts++;
        }
      }
    }
    expect(applied.length + conflicts).toBe(100);
    expect(applied.length).toBeGreaterThanOrEqual(5);
    const final = (await call('GET', `${path}/contended`)).json();
    // Each applied update bumped the generation exactly once; the last applied one won.
    expect(final.metadata.generation).toBe(1 + applied.length);
    expect(applied).toContain(final.spec.units);
    // Each applied client's annotation for its round is present unless a later applied update
    // (which read the object after it) carried it forward — so at least the last is there.
    const lastClient = (final.spec.units - 1) % 20;
    expect(final.metadata.annotations[`client-${lastClient}`]).toBeDefined();
  }, 60_000);
});
