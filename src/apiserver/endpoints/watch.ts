// Watch streams: newline-delimited JSON events over a chunked response, with resume by
// resourceVersion, bookmarks, timeouts and a clean end, as kube-apiserver serves them.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { toStatusError } from './http.js';
import type { Representation } from './negotiation.js';
import type { KubeObject } from '../../machinery/object.js';
import type { ServedObject } from '../storage/encoding.js';
import type { ServedResource } from '../registry/registry.js';
import { partialObjectMetadata } from '../registry/table.js';
import type { WatchEventType } from '../storage/interface.js';

export interface WatchSettings {
  /** Bookmark period when the client allows bookmarks (kube: one minute). */
  bookmarkIntervalMs: number;
  /** Bounds of the random timeout for watches that do not ask for one (kube: 30–60 min). */
  minTimeoutSeconds: number;
  maxTimeoutSeconds: number;
  /** A client that has this many bytes unread is too slow: its watch is closed. */
  maxBufferedBytes: number;
}

export const defaultWatchSettings: WatchSettings = {
  bookmarkIntervalMs: 60_000,
  minTimeoutSeconds: 1800,
  maxTimeoutSeconds: 3600,
  maxBufferedBytes: 16 * 1024 * 1024,
};

/** How long before a watch's deadline its last bookmark goes out (kube: 2 s). */
const preDeadlineBookmarkSeconds = 2;

/**
 * Encoded event lines shared by all streams of a resource. The watch cache hands every watcher
 * of an event the same immutable object instance, so with N streams the line is serialized
 * once, not N times (kube's cachingObject). Keyed weakly by the object: an entry lives as long
 * as the object does (in the cache's state or history window). Only used while the resource has
 * more than one open stream, so a single watcher costs no extra memory. Table lines depend on
 * the stream (column definitions go in its first event) and are encoded per stream.
 */
const sharedLines = new WeakMap<object, Map<string, Buffer>>();
const openStreams = new WeakMap<ServedResource, number>();

function sharedLine(obj: object, variant: string, encode: () => string): Buffer {
  let lines = sharedLines.get(obj);
  if (!lines) sharedLines.set(obj, (lines = new Map()));
  let line = lines.get(variant);
  if (!line) lines.set(variant, (line = Buffer.from(encode())));
  return line;
}

export async function serveWatch(
  req: IncomingMessage,
  res: ServerResponse,
  served: ServedResource,
  namespace: string | undefined,
  query: URLSearchParams,
  rep: Representation,
  settings: WatchSettings,
): Promise<void> {
  const timeoutRaw = query.get('timeoutSeconds');
  let timeoutSeconds = Number(timeoutRaw);
  if (timeoutRaw === null || !Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) {
    timeoutSeconds =
      settings.minTimeoutSeconds + Math.random() * (settings.maxTimeoutSeconds - settings.minTimeoutSeconds);
  }
  const bookmarks = query.get('allowWatchBookmarks') === 'true';
  let columnsSent = false;
  let closed = false;
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => (finish = resolve));

  const encode = (type: WatchEventType, obj: unknown): string => JSON.stringify({ type, object: obj }) + '\n';
  const represent = (obj: KubeObject, type: WatchEventType): unknown => {
    if (type === 'BOOKMARK' || type === 'ERROR') return obj;
    if (rep.kind === 'partialObjectMetadata') return partialObjectMetadata(obj, rep.version);
    if (rep.kind === 'table') {
      const table = served.table.table(
        [obj],
        { resourceVersion: obj.metadata.resourceVersion },
        includeObjectOf(query),
        rep.version,
        !columnsSent,
      );
      columnsSent = true;
      return table;
    }
    return obj;
  };
  const lineFor = (type: Exclude<WatchEventType, 'ERROR'>, obj: KubeObject, known?: ServedObject): string | Buffer => {
    const make = (): string =>
      known && rep.kind === 'object'
        ? `{"type":"${type}","object":${known.json}}\n`
        : encode(type, represent(obj, type));
    if (type === 'BOOKMARK' || rep.kind === 'table' || (openStreams.get(served) ?? 0) < 2) return make();
    return sharedLine(
      obj,
      rep.kind === 'partialObjectMetadata' ? `${type}/PartialObjectMetadata/${rep.version}` : type,
      make,
    );
  };
  const write = (line: string | Buffer): void => {
    if (closed) return;
    res.write(line);
    if (res.writableLength > settings.maxBufferedBytes) {
      // The client reads slower than events arrive: drop it instead of buffering without bound.
      close();
    }
  };
  const close = (): void => {
    if (closed) return;
    closed = true;
    openStreams.set(served, (openStreams.get(served) ?? 1) - 1);
    clearInterval(bookmarkTimer);
    clearTimeout(lastBookmark);
    clearTimeout(deadline);
    watch?.stop();
    res.end();
    finish();
  };

  openStreams.set(served, (openStreams.get(served) ?? 0) + 1);
  res.writeHead(200, {
    'Content-Type': 'application/json',
    'Transfer-Encoding': 'chunked',
    'Cache-Control': 'no-cache',
  });
  res.flushHeaders();
  req.on('close', close);
  res.on('close', close);

  const bookmark = (): void => {
    if (!watch) return;
    const obj = {
      kind: served.def.kind,
      apiVersion: served.store.apiVersion,
      metadata: { resourceVersion: String(watch.progressRevision()), creationTimestamp: null },
    };
    write(encode('BOOKMARK', obj));
  };
  const bookmarkTimer = bookmarks ? setInterval(bookmark, settings.bookmarkIntervalMs) : undefined;
  // kube's cacher also sends one 2 s before the deadline (cacheWatcher.nextBookmarkTime), so a
  // client resuming after the timeout starts from a recent resourceVersion.
  const lastBookmark =
    bookmarks && timeoutSeconds > preDeadlineBookmarkSeconds
      ? setTimeout(bookmark, (timeoutSeconds - preDeadlineBookmarkSeconds) * 1000)
      : undefined;
  const deadline = setTimeout(close, timeoutSeconds * 1000);

  let watch: Awaited<ReturnType<typeof served.store.watch>> | undefined;
  try {
    watch = await served.store.watch(
      namespace,
      {
        labelSelector: query.get('labelSelector'),
        fieldSelector: query.get('fieldSelector'),
        resourceVersion: query.get('resourceVersion'),
      },
      {
        event: (type, obj, known) => write(lineFor(type, obj, known)),
        error: (err) => {
          write(encode('ERROR', toStatusError(err).toStatus()));
          close();
        },
      },
    );
    if (closed) watch.stop();
  } catch (err) {
    write(encode('ERROR', toStatusError(err).toStatus()));
    close();
  }
  await done;
}

function includeObjectOf(query: URLSearchParams): 'None' | 'Metadata' | 'Object' {
  const v = query.get('includeObject');
  return v === 'None' || v === 'Object' ? v : 'Metadata';
}
