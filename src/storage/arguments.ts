// Argument checks every Store backend applies the same way, so callers get the same StorageError
// from SQLite and etcd for a bad key, value or revision (the conformance suite asserts it).

import { StorageError } from './interface.js';

/** A revision argument: absent means 0 ("latest" or "from now", per method); else a non-negative integer. */
export function checkRevisionArg(name: string, v: number | undefined): number {
  if (v === undefined) return 0;
  if (!Number.isSafeInteger(v) || v < 0) throw new StorageError(`invalid ${name}: ${v}`);
  return v;
}

export function checkKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) throw new StorageError(`invalid key: ${String(key)}`);
}

export function checkValue(value: unknown): asserts value is string {
  if (typeof value !== 'string') throw new StorageError('invalid value: not a string');
}
