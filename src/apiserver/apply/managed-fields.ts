// metadata.managedFields bookkeeping (k8s.io/apimachinery pkg/util/managedfields/internal):
// decoding/encoding entries, manager identities, output order, the Update-entry cap
// ("ancient-changes"), the never-tracked paths, reset detection, entry validation, and
// client-go's csaupgrade (client-side apply → server-side apply manager migration).

import type { FieldError } from '../../machinery/errors.js';
import type { ManagedFieldsEntry } from '../../machinery/meta.js';
import { formatTime } from '../../machinery/time.js';
import { FieldSet, fieldPE, fromFieldsV1, toFieldsV1, type Path } from './fieldset.js';
import { compareStrings, goQuote, isPlainObject, valuesEqual } from './values.js';

export type Operation = 'Apply' | 'Update';

/** One manager's ownership record, decoded. */
export interface ManagerEntry {
  manager: string;
  operation: Operation;
  apiVersion: string;
  /** '' for the main resource. */
  subresource: string;
  /** RFC 3339 UTC, whole seconds; absent when never set. */
  time?: string;
  set: FieldSet;
}

/** Entries by manager identity (see managerIdentity). Map order is irrelevant. */
export type Managed = Map<string, ManagerEntry>;

/** Update entries beyond this count are merged into "ancient-changes" buckets. */
export const DEFAULT_MAX_UPDATE_MANAGERS = 10;
export const ANCIENT_CHANGES_MANAGER = 'ancient-changes';
export const BEFORE_FIRST_APPLY_MANAGER = 'before-first-apply';
export const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';
/** Maximum length of a field manager name in bytes. */
export const FIELD_MANAGER_MAX_LENGTH = 128;
const MAX_SUBRESOURCE_NAME_LENGTH = 256;

/**
 * The identity kube keys entries by (BuildManagerIdentifier): the JSON of the entry without
 * time, fields and — for Apply — apiVersion. One Apply entry per (manager, subresource); one
 * Update entry per (manager, apiVersion, subresource).
 */
export function managerIdentity(e: {
  manager: string;
  operation: Operation;
  apiVersion: string;
  subresource: string;
}): string {
  const parts: string[] = [];
  if (e.manager) parts.push(`"manager":${goQuote(e.manager)}`);
  parts.push(`"operation":${goQuote(e.operation)}`);
  if (e.operation !== 'Apply' && e.apiVersion) parts.push(`"apiVersion":${goQuote(e.apiVersion)}`);
  if (e.subresource) parts.push(`"subresource":${goQuote(e.subresource)}`);
  return '{' + parts.join(',') + '}';
}

/** How a conflict message names a manager: `"m"`, `"m" with subresource "status"`, `… using v1`. */
export function describeManager(e: Pick<ManagerEntry, 'manager' | 'operation' | 'apiVersion' | 'subresource'>): string {
  let s = JSON.stringify(e.manager);
  if (e.subresource) s += ` with subresource ${JSON.stringify(e.subresource)}`;
  if (e.operation === 'Update') s += ` using ${e.apiVersion}`;
  return s;
}

const rfc3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** Normalises an RFC 3339 time to what metav1.Time re-serialises (UTC, whole seconds). */
export function normalizeTime(t: string): string {
  if (!rfc3339.test(t)) throw new Error(`parsing time ${JSON.stringify(t)} as RFC3339`);
  const ms = Date.parse(t);
  if (Number.isNaN(ms)) throw new Error(`parsing time ${JSON.stringify(t)} as RFC3339`);
  return formatTime(new Date(ms));
}

function seconds(t: string | undefined): number {
  return t ? Math.floor(Date.parse(t) / 1000) : 0;
}

/**
 * Decodes metadata.managedFields (DecodeManagedFields). Throws on an invalid entry:
 * operation not Apply|Update, empty apiVersion, fieldsType not FieldsV1, undecodable fields.
 * Two entries with the same identity: the later one wins.
 */
export function decodeManagedFields(raw: unknown): Managed {
  const managed: Managed = new Map();
  if (raw === undefined || raw === null) return managed;
  if (!Array.isArray(raw)) throw new Error('managedFields must be a list');
  raw.forEach((entry, i) => {
    if (!isPlainObject(entry)) throw new Error(`managed fields entry ${i} must be an object`);
    const operation = entry.operation;
    if (operation !== 'Apply' && operation !== 'Update') throw new Error('operation must be `Apply` or `Update`');
    const apiVersion = entry.apiVersion;
    if (typeof apiVersion !== 'string' || apiVersion.length < 1) throw new Error('apiVersion must not be empty');
    if (entry.fieldsType === undefined || entry.fieldsType === null || entry.fieldsType === '') {
      throw new Error(`missing fieldsType in managed fields entry ${i}`);
    }
    if (entry.fieldsType !== 'FieldsV1')
      throw new Error(`invalid fieldsType ${JSON.stringify(entry.fieldsType)} in managed fields entry ${i}`);
    const manager = entry.manager ?? '';
    const subresource = entry.subresource ?? '';
    if (typeof manager !== 'string' || typeof subresource !== 'string')
      throw new Error(`invalid managed fields entry ${i}`);
    let time: string | undefined;
    if (entry.time !== undefined && entry.time !== null) {
      if (typeof entry.time !== 'string') throw new Error(`invalid time in managed fields entry ${i}`);
      time = normalizeTime(entry.time);
    }
    let set: FieldSet;
    try {
      set = fromFieldsV1(entry.fieldsV1);
    } catch (err) {
      throw new Error(`error decoding versioned set from managed fields entry ${i}: ${(err as Error).message}`);
    }
    const e: ManagerEntry = { manager, operation, apiVersion, subresource, set };
    if (time) e.time = time;
    managed.set(managerIdentity(e), e);
  });
  return managed;
}

/** Like decodeManagedFields, but an undecodable list counts as empty. */
export function decodeManagedFieldsOrEmpty(raw: unknown): Managed {
  try {
    return decodeManagedFields(raw);
  } catch {
    return new Map();
  }
}

/** kube's output order: Apply before Update, then time (missing = 0), manager, apiVersion, subresource. */
export function compareEntries(p: ManagedFieldsEntry, q: ManagedFieldsEntry): number {
  if (p.operation !== q.operation) return compareStrings(p.operation ?? '', q.operation ?? '');
  const ps = seconds(p.time);
  const qs = seconds(q.time);
  if (ps !== qs) return ps < qs ? -1 : 1;
  if (p.manager !== q.manager) return compareStrings(p.manager ?? '', q.manager ?? '');
  if (p.apiVersion !== q.apiVersion) return compareStrings(p.apiVersion ?? '', q.apiVersion ?? '');
  return compareStrings(p.subresource ?? '', q.subresource ?? '');
}

/** One entry as kube serialises it (field order of the Go struct, empty values omitted). */
export function encodeEntry(e: ManagerEntry): ManagedFieldsEntry {
  const out: ManagedFieldsEntry = {};
  if (e.manager) out.manager = e.manager;
  out.operation = e.operation;
  if (e.apiVersion) out.apiVersion = e.apiVersion;
  if (e.time) out.time = e.time;
  out.fieldsType = 'FieldsV1';
  out.fieldsV1 = toFieldsV1(e.set);
  if (e.subresource) out.subresource = e.subresource;
  return out;
}

/** The managedFields list kube stores: sorted; undefined (field omitted) when there is no entry. */
export function encodeManagedFields(managed: Managed): ManagedFieldsEntry[] | undefined {
  if (managed.size === 0) return undefined;
  return [...managed.values()].map(encodeEntry).sort(compareEntries);
}

/** `[]` or `[{}]` in a write body: the client asks to reset (clear) managedFields. */
export function isResetManagedFields(raw: unknown): boolean {
  if (!Array.isArray(raw)) return false;
  if (raw.length === 0) return true;
  if (raw.length !== 1 || !isPlainObject(raw[0])) return false;
  const e = raw[0];
  for (const k of ['manager', 'operation', 'apiVersion', 'time', 'fieldsType', 'subresource']) {
    if (e[k] !== undefined && e[k] !== null && e[k] !== '') return false;
  }
  return e.fieldsV1 === undefined || e.fieldsV1 === null;
}

/** Paths never tracked (StripMeta): apiVersion, kind, metadata itself and its server-owned fields. */
export const STRIP_SET: FieldSet = FieldSet.fromPaths([
  [fieldPE('apiVersion')],
  [fieldPE('kind')],
  [fieldPE('metadata')],
  ...[
    'name',
    'namespace',
    'creationTimestamp',
    'selfLink',
    'uid',
    'clusterName',
    'generation',
    'managedFields',
    'resourceVersion',
  ].map((f): Path => [fieldPE('metadata'), fieldPE(f)]),
]);

/**
 * Caps the number of Update entries (CapManagers): when there are more than `max`, the oldest
 * are merged, per apiVersion, into `ancient-changes` buckets until at most `max` remain.
 * Apply entries are never counted or merged. Mutates and returns `managed`.
 */
export function capUpdateManagers(managed: Managed, max = DEFAULT_MAX_UPDATE_MANAGERS): Managed {
  const updaters = [...managed.entries()].filter(([, e]) => e.operation === 'Update').map(([id]) => id);
  if (updaters.length <= max) return managed;
  updaters.sort((a, b) => {
    const sa = seconds(managed.get(a)!.time);
    const sb = seconds(managed.get(b)!.time);
    if (sa !== sb) return sa < sb ? -1 : 1;
    return compareStrings(a, b);
  });
  const firstByVersion = new Map<string, string>();
  let length = updaters.length;
  for (let i = 0; i < updaters.length && length > max; i++) {
    const id = updaters[i];
    const e = managed.get(id)!;
    const version = e.apiVersion;
    const bucket = managerIdentity({
      manager: ANCIENT_CHANGES_MANAGER,
      operation: 'Update',
      apiVersion: version,
      subresource: '',
    });
    const first = firstByVersion.get(version);
    if (first === undefined) {
      firstByVersion.set(version, id);
      continue;
    }
    if (!managed.has(bucket)) {
      const f = managed.get(first)!;
      managed.delete(first);
      managed.set(bucket, {
        manager: ANCIENT_CHANGES_MANAGER,
        operation: 'Update',
        apiVersion: version,
        subresource: '',
        set: f.set,
      });
    }
    const b = managed.get(bucket)!;
    const merged: ManagerEntry = {
      manager: ANCIENT_CHANGES_MANAGER,
      operation: 'Update',
      apiVersion: version,
      subresource: '',
      set: e.set.union(b.set),
    };
    if (e.time) merged.time = e.time;
    managed.delete(id);
    managed.set(bucket, merged);
    length--;
  }
  return managed;
}

/**
 * Whether two managedFields lists are equal except for timestamps, entry by entry
 * (as-is/endpoints/handlers/fieldmanager/equality.go).
 */
export function managedFieldsEqualIgnoringTime(
  a: ManagedFieldsEntry[] | undefined,
  b: ManagedFieldsEntry[] | undefined,
): boolean {
  const la = a ?? [];
  const lb = b ?? [];
  if (la.length !== lb.length) return false;
  for (let i = 0; i < la.length; i++) {
    const p = la[i];
    const q = lb[i];
    if (
      p.operation !== q.operation ||
      p.apiVersion !== q.apiVersion ||
      p.fieldsType !== q.fieldsType ||
      (p.manager ?? '') !== (q.manager ?? '') ||
      (p.subresource ?? '') !== (q.subresource ?? '') ||
      !valuesEqual(p.fieldsV1, q.fieldsV1)
    ) {
      return false;
    }
  }
  return true;
}

/** The default field manager of a non-apply write: the User-Agent up to the first `/`, printable, ≤128 bytes. */
export function managerFromUserAgent(userAgent: string | undefined): string {
  const prefix = (userAgent ?? '').split('/')[0];
  let out = '';
  let bytes = 0;
  for (const ch of prefix) {
    if (!/^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u.test(ch)) continue;
    const len = Buffer.byteLength(ch);
    if (bytes + len > FIELD_MANAGER_MAX_LENGTH) break;
    out += ch;
    bytes += len;
  }
  return out;
}

/** fieldManager validation (ValidateFieldManager): ≤128 bytes, no control characters. */
export function validateFieldManager(manager: string, field: string): FieldError[] {
  const errs: FieldError[] = [];
  if (Buffer.byteLength(manager) > FIELD_MANAGER_MAX_LENGTH) {
    errs.push({
      type: 'FieldValueTooLong',
      field,
      value: manager,
      detail: `may not be more than ${FIELD_MANAGER_MAX_LENGTH} bytes`,
    });
  }
  if (/\p{Cc}/u.test(manager)) {
    errs.push({
      type: 'FieldValueInvalid',
      field,
      value: manager,
      detail: 'is not allowed to contain control characters',
    });
  }
  return errs;
}

/** ObjectMeta validation of managedFields (ValidateManagedFields), for `metadata.managedFields`. */
export function validateManagedFieldsEntries(entries: unknown, field = 'metadata.managedFields'): FieldError[] {
  const errs: FieldError[] = [];
  if (entries === undefined || entries === null) return errs;
  if (!Array.isArray(entries))
    return [{ type: 'FieldValueTypeInvalid', field, value: entries, detail: 'must be a list' }];
  entries.forEach((raw, i) => {
    const path = `${field}[${i}]`;
    const e = isPlainObject(raw) ? raw : {};
    if (e.operation !== 'Apply' && e.operation !== 'Update') {
      errs.push({
        type: 'FieldValueInvalid',
        field: `${path}.operation`,
        value: e.operation ?? '',
        detail: 'must be `Apply` or `Update`',
      });
    }
    if (e.fieldsType !== undefined && e.fieldsType !== null && e.fieldsType !== '' && e.fieldsType !== 'FieldsV1') {
      errs.push({
        type: 'FieldValueInvalid',
        field: `${path}.fieldsType`,
        value: e.fieldsType,
        detail: 'must be `FieldsV1`',
      });
    }
    errs.push(...validateFieldManager(typeof e.manager === 'string' ? e.manager : '', `${path}.manager`));
    if (typeof e.subresource === 'string' && e.subresource.length > MAX_SUBRESOURCE_NAME_LENGTH) {
      errs.push({
        type: 'FieldValueTooLong',
        field: `${path}.subresource`,
        value: e.subresource,
        detail: `may not be more than ${MAX_SUBRESOURCE_NAME_LENGTH} bytes`,
      });
    }
  });
  return errs;
}

// ---- client-go csaupgrade ---------------------------------------------------------------

/** Entries of `operation` whose set contains every path of `fields` (csaupgrade.FindFieldsOwners). */
export function findFieldsOwners(
  entries: ManagedFieldsEntry[] | undefined,
  operation: Operation,
  fields: FieldSet,
): ManagedFieldsEntry[] {
  const out: ManagedFieldsEntry[] = [];
  for (const e of entries ?? []) {
    if (e.operation !== operation) continue;
    let set: FieldSet;
    try {
      set = fromFieldsV1(e.fieldsV1);
    } catch {
      continue;
    }
    if (fields.difference(set).isEmpty()) out.push(e);
  }
  return out;
}

/** The path of the client-side apply annotation, whose owners kubectl migrates. */
export const LAST_APPLIED_PATH: FieldSet = FieldSet.fromPaths([
  [fieldPE('metadata'), fieldPE('annotations'), fieldPE(LAST_APPLIED_ANNOTATION)],
]);

/**
 * Migrates the fields of client-side-apply Update managers to the server-side-apply manager
 * (csaupgrade.UpgradeManagedFields): the target is the `ssaManager` Apply entry of the main
 * resource, or else the first `csaManager` Update entry converted in place; the csaManager
 * Update entry with the target's apiVersion is unioned into it and every main-resource Update
 * entry of that name is dropped. Returns a new list (undefined when it becomes empty).
 */
export function upgradeManagedFields(
  entries: ManagedFieldsEntry[] | undefined,
  csaManagerNames: Iterable<string>,
  ssaManager: string,
): ManagedFieldsEntry[] | undefined {
  let list = entries?.map((e) => ({ ...e }));
  for (const csa of csaManagerNames) {
    if (!list) return undefined;
    let target = list.findIndex((e) => e.manager === ssaManager && e.operation === 'Apply' && !e.subresource);
    if (target < 0) {
      target = list.findIndex((e) => e.manager === csa && e.operation === 'Update' && !e.subresource);
      if (target < 0) continue;
      list[target] = { ...list[target], operation: 'Apply', manager: ssaManager };
    }
    const targetEntry = list[target];
    const source = list.find(
      (e) => e.manager === csa && e.operation === 'Update' && !e.subresource && e.apiVersion === targetEntry.apiVersion,
    );
    let set = fromFieldsV1(targetEntry.fieldsV1);
    if (source) set = set.union(fromFieldsV1(source.fieldsV1));
    list[target] = { ...targetEntry, fieldsV1: toFieldsV1(set) };
    const filtered = list.filter((e) => !(e.manager === csa && e.operation === 'Update' && !e.subresource));
    list = filtered.length > 0 ? filtered : undefined;
  }
  return list;
}
