import { createHash } from 'node:crypto';

/** Deep copy of a JSON value with the keys of every object sorted (as Go marshals maps), so that
 * the same content always serializes to the same bytes. `undefined` members are dropped. */
export function sortKeys<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => sortKeys(v)) as T;
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = sortKeys(v);
    }
    return out as T;
  }
  return value;
}

/** Canonical JSON bytes: sorted keys, no whitespace. */
export function canonicalJSON(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(sortKeys(value)), 'utf8');
}

/** Uppercase hex SHA-512, as kube-openapi computes OpenAPI hashes and ETags. */
export function sha512Hex(data: Buffer | Uint8Array): string {
  return createHash('sha512').update(data).digest('hex').toUpperCase();
}
