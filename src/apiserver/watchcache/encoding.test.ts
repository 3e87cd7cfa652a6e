// The HTTP watch streams share one encoded line per event object among their watchers.

import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { openSqliteStore } from '../../storage/sqlite/store.js';
import type { Store } from '../../storage/interface.js';
import { defaultWatchSettings, serveWatch } from '../endpoints/watch.js';
import type { Representation } from '../endpoints/negotiation.js';
import { APIRegistry, type ServedResource } from '../registry/registry.js';
import { widgetDefinition } from '../testing/widget.js';
import { settle } from './testing/store.js';
import { watchCacheDecorator, watchCacheOf } from './decorator.js';

class FakeResponse extends EventEmitter {
  readonly chunks: (string | Buffer)[] = [];
  writableLength = 0;
  ended = false;
  writeHead(): this {
    return this;
  }
  flushHeaders(): void {}
  write(chunk: string | Buffer): boolean {
    this.chunks.push(chunk);
    return true;
  }
  end(): void {
    this.ended = true;
  }
  lines(): string[] {
    return this.chunks.map((c) => c.toString()).filter((l) => l.length > 0);
  }
}

let store: Store;
let registry: APIRegistry;
let served: ServedResource;

beforeEach(() => {
  store = openSqliteStore(':memory:');
  registry = new APIRegistry(store, [{ definition: widgetDefinition }], { decorator: watchCacheDecorator() });
  served = registry.lookup('test.upm.io', 'v1', 'widgets')!;
});
afterEach(async () => {
  registry.close();
  await store.close();
});

function stream(rep: Representation, query = ''): { req: EventEmitter; res: FakeResponse; done: Promise<void> } {
  const req = new EventEmitter();
  const res = new FakeResponse();
  const done = serveWatch(
    req as unknown as IncomingMessage,
    res as unknown as ServerResponse,
    served,
    undefined,
    new URLSearchParams(query),
    rep,
    defaultWatchSettings,
  );
  return { req, res, done };
}

const body = (name: string) => ({
  apiVersion: 'test.upm.io/v1',
  kind: 'Widget',
  metadata: { name },
  spec: { size: 1 },
});

it('encodes an event once for all streams of the same representation', async () => {
  await served.store.create('a', body('before'));
  const streams = [
    stream({ kind: 'object' }),
    stream({ kind: 'object' }),
    stream({ kind: 'object' }, 'resourceVersion=0'),
  ];
  const meta = stream({ kind: 'partialObjectMetadata', version: 'v1' });
  const table = stream({ kind: 'table', version: 'v1' });
  await settle();
  await served.store.create('a', body('x'));
  await settle();
  const lastChunks = streams.map((s) => s.res.chunks[s.res.chunks.length - 1]);
  expect(lastChunks[0]).toBeInstanceOf(Buffer);
  expect(lastChunks[1]).toBe(lastChunks[0]);
  expect(lastChunks[2]).toBe(lastChunks[0]);
  const event = JSON.parse(lastChunks[0]!.toString()) as { type: string; object: { metadata: { name: string } } };
  expect(event).toMatchObject({ type: 'ADDED', object: { kind: 'Widget', metadata: { name: 'x' } } });
  // Every stream got the same events.
  for (const s of streams) expect(s.res.lines()).toEqual(streams[0]!.res.lines());
  // Other representations are encoded for themselves.
  const metaLine = JSON.parse(meta.res.lines().at(-1)!) as { object: { kind: string } };
  expect(metaLine.object.kind).toBe('PartialObjectMetadata');
  const tableLines = table.res
    .lines()
    .map((l) => JSON.parse(l) as { object: { kind: string; columnDefinitions?: unknown[] } });
  expect(tableLines.map((l) => l.object.kind)).toEqual(['Table', 'Table']);
  expect(tableLines[0]!.object.columnDefinitions).toBeDefined();
  expect(tableLines[1]!.object.columnDefinitions).toBeUndefined();
  for (const s of [...streams, meta, table]) s.req.emit('close');
  await Promise.all([...streams, meta, table].map((s) => s.done));
});

it('ends a stream whose client does not read, without affecting the others', async () => {
  const slow = stream({ kind: 'object' });
  const fast = stream({ kind: 'object' });
  await settle();
  slow.res.writableLength = defaultWatchSettings.maxBufferedBytes + 1;
  await served.store.create('a', body('x'));
  await served.store.create('a', body('y'));
  await settle();
  await slow.done;
  expect(slow.res.ended).toBe(true);
  expect(slow.res.lines()).toHaveLength(1);
  expect(fast.res.lines()).toHaveLength(2);
  expect(watchCacheOf(served.store).stats().watchers).toBe(1);
  fast.req.emit('close');
  await fast.done;
});
