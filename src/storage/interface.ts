// The storage contract every backend (SQLite now, etcd next) implements.
//
// It is a revisioned key-value store modelled on etcd v3: one global revision counter that
// increases by one on every successful write, across all keys. An object's resourceVersion is
// the revision of the write that produced it (its modRevision). Lists can be read at a past
// revision until that revision is compacted, and watches resume from any revision that is not
// compacted, so list-then-watch never misses or duplicates an event.
//
// Values are opaque strings (JSON text of the object, written by the registry). Keys are
// '/'-separated paths such as `/upm.io/unitsets/default/a`; a prefix used for list and watch
// always ends in '/'.

/** One stored version of a key. */
export interface KeyValue {
  key: string;
  value: string;
  /** Revision of the write that created the key (stays the same across updates). */
  createRevision: number;
  /** Revision of the write that produced this value. Used as the object's resourceVersion. */
  modRevision: number;
}

export interface ListOptions {
  /** Read the state as of this revision. 0 or undefined: the current revision. */
  revision?: number;
  /** Return only keys strictly greater than this key (pagination cursor). */
  startAfter?: string;
  /** At most this many items; 0 or undefined: no limit. */
  limit?: number;
}

export interface ListResult {
  items: KeyValue[];
  /** The revision the list was read at (the current revision when none was asked for). */
  revision: number;
  /** True when `limit` cut the list short. */
  more: boolean;
  /** How many keys under the prefix come after the returned ones at the same revision. */
  remaining: number;
}

export interface Precondition {
  /** The write succeeds only when the key's current modRevision equals this. */
  modRevision?: number;
}

export type WatchEventType = 'PUT' | 'DELETE';

export interface WatchEvent {
  type: WatchEventType;
  key: string;
  /** For PUT: the new value. For DELETE: the last value the key had before it was deleted. */
  value: string;
  /** The value before this event, when there was one (absent on the first PUT of a key). */
  prevValue?: string;
  /** For PUT: the key's createRevision. For DELETE: the createRevision of the deleted value. */
  createRevision: number;
  /** The revision of this event's write. For DELETE this is the revision of the delete. */
  revision: number;
}

export interface Watch {
  /** Stops the watch; no callback is called after it returns. Safe to call twice. */
  stop(): void;
  /**
   * Asks the backend for a progress notification (onProgress) soon, so a caller that needs to
   * know it is current (a consistent read from a cache) need not wait for the next event
   * (etcd's WatchProgressRequest). Optional; backends that report progress on every commit
   * have no need for it.
   */
  requestProgress?(): void;
}

export interface WatchCallbacks {
  /** Events in strictly increasing revision order, each exactly once. */
  onEvent(event: WatchEvent): void;
  /**
   * The watch ended because of an error, e.g. {@link CompactedError} when `afterRevision` was
   * compacted, or the backend was closed. No event follows.
   */
  onError(err: Error): void;
  /**
   * Progress: every event of the prefix with a revision up to `revision` has been passed to
   * onEvent (before this call), and the store had committed `revision` when it was reported, so
   * a reader that has seen this call is as current as `currentRevision()` returned earlier. It
   * lets a cache of a quiet prefix know it is still current while other keys are written (etcd's
   * progress notifications). Optional for backends; revisions only grow.
   */
  onProgress?(revision: number): void;
}

export interface Store {
  /** A short name of the backend for logs and metrics ("sqlite", "etcd"). */
  readonly backend: string;

  /** The revision of the latest write (0 for an empty store). */
  currentRevision(): Promise<number>;

  /** The revision of the latest compaction, 0 if none. The state at this revision is still
   * readable; a list at an earlier revision, or a watch after an earlier revision, fails with
   * CompactedError. */
  compactedRevision(): Promise<number>;

  /** The current value of one key, or null. */
  get(key: string): Promise<KeyValue | null>;

  /** Keys under a prefix, in key order, at a revision. Throws CompactedError for a compacted one
   * and FutureRevisionError for one not yet written. */
  list(prefix: string, opts?: ListOptions): Promise<ListResult>;

  /** Count of live keys under a prefix at the current revision. */
  count(prefix: string): Promise<number>;

  /** Creates a key that must not exist. Throws KeyExistsError otherwise. */
  create(key: string, value: string): Promise<KeyValue>;

  /** Replaces an existing key's value. Throws KeyNotFoundError or PreconditionFailedError. */
  update(key: string, value: string, precondition?: Precondition): Promise<KeyValue>;

  /** Deletes an existing key; returns its last value with the delete's revision as modRevision.
   * Throws KeyNotFoundError or PreconditionFailedError. */
  delete(key: string, precondition?: Precondition): Promise<KeyValue>;

  /** Watches every key under a prefix, delivering events with revision > afterRevision.
   * afterRevision 0 means "from now on". If afterRevision is compacted, onError gets a
   * CompactedError (asynchronously). */
  watch(prefix: string, afterRevision: number, callbacks: WatchCallbacks): Watch;

  /** Discards the history before `revision`: the state at `revision` (and so the current value
   * of every key) is kept. A revision at or below the compacted one is a no-op; one above the
   * current revision throws FutureRevisionError. */
  compact(revision: number): Promise<void>;

  /** Closes the store; open watches end with an error. */
  close(): Promise<void>;
}

export class StorageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export class KeyExistsError extends StorageError {
  constructor(readonly key: string) {
    super(`key exists: ${key}`);
  }
}

export class KeyNotFoundError extends StorageError {
  constructor(readonly key: string) {
    super(`key not found: ${key}`);
  }
}

export class PreconditionFailedError extends StorageError {
  constructor(
    readonly key: string,
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`precondition failed for ${key}: expected modRevision ${expected}, found ${actual}`);
  }
}

/** The requested revision is older than the compacted revision. */
export class CompactedError extends StorageError {
  constructor(
    readonly requested: number,
    readonly compacted: number,
  ) {
    super(`revision ${requested} has been compacted (compacted revision ${compacted})`);
  }
}

/** The requested revision is newer than the store's current revision. */
export class FutureRevisionError extends StorageError {
  constructor(
    readonly requested: number,
    readonly current: number,
  ) {
    super(`revision ${requested} is ahead of the current revision ${current}`);
  }
}
