// Server-side apply and managedFields tracking for the generic registry: the pipeline of
// apimachinery's FieldManager (VersionCheck → LastAppliedUpdater → LastAppliedManager →
// SkipNonApplied → CapManagers → ManagedFieldsUpdater → StripMeta → structured merge) over
// the smd operations in this folder, with CRD semantics for reset fields and null pruning.

import { parse as parseYAML } from 'yaml';
import type { JSONSchema } from '../../machinery/definition.js';
import type { KubeObject } from '../../machinery/object.js';
import type { ManagedFieldsEntry } from '../../machinery/meta.js';
import { formatTime } from '../../machinery/time.js';
import {
  badRequest,
  internalError,
  invalid,
  StatusError,
  type FieldError,
  type StatusCause,
} from '../../machinery/errors.js';
import { FieldSet, fieldPE, pathToString, type Path } from './fieldset.js';
import {
  BEFORE_FIRST_APPLY_MANAGER,
  DEFAULT_MAX_UPDATE_MANAGERS,
  LAST_APPLIED_ANNOTATION,
  STRIP_SET,
  capUpdateManagers,
  decodeManagedFields,
  decodeManagedFieldsOrEmpty,
  describeManager,
  encodeManagedFields,
  isResetManagedFields,
  managedFieldsEqualIgnoringTime,
  managerIdentity,
  validateFieldManager,
  type Managed,
  type ManagerEntry,
} from './managed-fields.js';
import { mergeValues, prune } from './merge.js';
import {
  compareObjects,
  formatValidationErrors,
  kindType,
  resetItemMemo,
  toFieldSet,
  validateValue,
  type Comparison,
  type MapType,
} from './schema-walk.js';
import { cloneValue, compareStrings, goJSON, isPlainObject, valuesEqual } from './values.js';

export interface ApplyOptions {
  /** The stored object, or undefined when the apply creates it. */
  live: KubeObject | undefined;
  /** The decoded apply-patch body (see decodeApplyBody). */
  applied: unknown;
  /** The `fieldManager` query parameter (required; see validatePatchOptions). */
  manager: string;
  /** The `force` query parameter. */
  force?: boolean;
  /** The kind's schema (`ResourceDefinition.schema`); apiVersion, kind and ObjectMeta are added. */
  schema: JSONSchema;
  /** Group/version of the endpoint, e.g. `upm.io/v1` (or `v1` for the core group). */
  apiVersion: string;
  /** Kind of the endpoint. */
  kind: string;
  /** `status` for an apply to the /status subresource. */
  subresource?: 'status';
  /** Whether the kind has a /status subresource (then the main resource ignores `status`). */
  statusSubresource?: boolean;
  /** Name and namespace from the URL: the body must match them (checkName). */
  name?: string;
  namespace?: string;
  /** Clock (tests). */
  now?: Date;
  /** Applies schema defaults to a changed result (owned by nobody), e.g. structural applyDefaults. */
  defaulter?: (obj: Record<string, unknown>) => void;
  /** Update-entry cap (10 in kube). */
  maxUpdateManagers?: number;
}

export interface UpdateManagedFieldsOptions {
  /** The stored object; undefined for a create. */
  old: KubeObject | undefined;
  /** The object about to be stored (after the patch/PUT body, defaulting and strategy). */
  updated: KubeObject;
  /** The writer: `fieldManager`, else managerFromUserAgent(User-Agent). */
  manager: string;
  /** Group/version of the request. */
  apiVersion: string;
  schema: JSONSchema;
  /** `status` or `scale` for subresource writes. */
  subresource?: string;
  statusSubresource?: boolean;
  now?: Date;
  maxUpdateManagers?: number;
}

type Filter = (s: FieldSet) => FieldSet;

const STATUS = fieldPE('status');

function onlyStatus(s: FieldSet): FieldSet {
  if (s.isEmpty()) return s;
  const out = new FieldSet();
  if (s.members.has(STATUS.key)) out.addMember(STATUS);
  out.addChild(STATUS, s.children.get(STATUS.key)?.set);
  return out;
}

function withoutStatus(s: FieldSet): FieldSet {
  if (!s.members.has(STATUS.key) && !s.children.has(STATUS.key)) return s;
  const out = new FieldSet();
  for (const [k, pe] of s.members) if (k !== STATUS.key) out.members.set(k, pe);
  for (const [k, node] of s.children) if (k !== STATUS.key) out.children.set(k, node);
  return out;
}

/** The reset-fields filter (GetResetFields): what a write through this endpoint never owns. */
function resetFilter(subresource: string | undefined, statusSubresource: boolean | undefined): Filter {
  if (subresource === 'status') return onlyStatus;
  if (!subresource && statusSubresource) return withoutStatus;
  return (s) => s;
}

function filterComparison(c: Comparison, f: Filter): Comparison {
  return { removed: f(c.removed), modified: f(c.modified), added: f(c.added) };
}

type Obj = Record<string, unknown>;

function withoutManagedFields(o: KubeObject | Obj): Obj {
  const meta = (o as Obj).metadata;
  if (!isPlainObject(meta) || !('managedFields' in meta)) return o as Obj;
  const { managedFields: _mf, ...rest } = meta;
  return { ...o, metadata: rest };
}

function setManagedFields(obj: Obj, mf: ManagedFieldsEntry[] | undefined): void {
  let meta = obj.metadata;
  if (!isPlainObject(meta)) {
    meta = {};
    obj.metadata = meta;
  }
  const m = meta as Obj;
  delete m.managedFields;
  if (mf) m.managedFields = mf;
}

/**
 * Records an Update (smd Update with kube's "current-operation" manager, ManagedFieldsUpdater
 * and StripMeta): every manager loses the removed paths and, except for ownership the writer
 * keeps, the changed ones; the writer's Update entry gains what changed and gets a new time.
 */
function recordUpdate(
  managed: Managed,
  live: unknown,
  updated: unknown,
  writer: { manager: string; apiVersion: string; subresource: string },
  filter: Filter,
  now: Date,
  root: MapType,
): void {
  const c = filterComparison(compareObjects(live, updated, root), filter);
  const changed = c.modified.union(c.added);
  for (const [id, e] of managed) {
    const s = e.set.difference(changed).difference(c.removed);
    if (s.isEmpty()) managed.delete(id);
    else if (s !== e.set) managed.set(id, { ...e, set: s });
  }
  const self = changed.difference(STRIP_SET);
  if (self.isEmpty()) return;
  const identity = {
    manager: writer.manager,
    operation: 'Update' as const,
    apiVersion: writer.apiVersion,
    subresource: writer.subresource,
  };
  const id = managerIdentity(identity);
  const prev = managed.get(id);
  managed.set(id, { ...identity, time: formatTime(now), set: prev ? self.union(prev.set) : self });
}

// ---- Update ---------------------------------------------------------------------------------

/**
 * Computes metadata.managedFields for a non-apply write (create, update, merge/JSON patch,
 * status and scale writes) and returns a copy of `updated` carrying it. Never throws: on an
 * internal error the live managedFields are kept.
 *
 * - Starting state: for subresource writes the live entries; otherwise the body's entries —
 *   `[]` or `[{}]` resets them, a decodable non-empty list replaces them (kubectl's csaupgrade),
 *   anything else (absent, null, undecodable) falls back to the live entries.
 * - An existing object without entries (after a reset, or legacy) is not tracked: the result
 *   has no managedFields until the next apply.
 * - Timestamp-only changes are reverted when nothing else changed (no spurious RV bump).
 */
export function updateManagedFields(o: UpdateManagedFieldsOptions): KubeObject {
  const out = {
    ...o.updated,
    metadata: { ...(isPlainObject(o.updated.metadata) ? o.updated.metadata : {}) },
  } as KubeObject;
  resetItemMemo();
  try {
    const root = kindType(o.schema);
    const subresource = o.subresource ?? '';
    const live: Obj = o.old ? withoutManagedFields(o.old) : { apiVersion: o.updated.apiVersion, kind: o.updated.kind };
    const updated = withoutManagedFields(o.updated);
    let managed: Managed;
    if (subresource) managed = decodeManagedFieldsOrEmpty(o.old?.metadata?.managedFields);
    else {
      const body = o.updated.metadata?.managedFields as unknown;
      if (isResetManagedFields(body)) managed = new Map();
      else {
        managed = decodeManagedFieldsOrEmpty(body);
        if (managed.size === 0) managed = decodeManagedFieldsOrEmpty(o.old?.metadata?.managedFields);
      }
    }
    if (managed.size === 0 && o.old) {
      setManagedFields(out, undefined);
      return out;
    }
    recordUpdate(
      managed,
      live,
      updated,
      { manager: o.manager || 'unknown', apiVersion: o.apiVersion, subresource },
      resetFilter(subresource, o.statusSubresource),
      o.now ?? new Date(),
      root,
    );
    capUpdateManagers(managed, o.maxUpdateManagers ?? DEFAULT_MAX_UPDATE_MANAGERS);
    const mf = encodeManagedFields(managed);
    const oldMF = o.old?.metadata?.managedFields;
    if (o.old && managedFieldsEqualIgnoringTime(oldMF, mf) && valuesEqual(live, updated))
      setManagedFields(out, cloneValue(oldMF));
    else setManagedFields(out, mf);
  } catch {
    setManagedFields(out, cloneValue(o.old?.metadata?.managedFields));
  }
  return out;
}

// ---- Apply ----------------------------------------------------------------------------------

interface ConflictItem {
  id: string;
  entry: ManagerEntry;
  path: Path;
}

class Conflicts extends Error {
  constructor(readonly items: ConflictItem[]) {
    super('apply conflicts');
  }
}

/** The 409 kube answers (mf/internal/conflict.go NewConflictError). */
export function conflictError(
  items: {
    entry: Pick<ManagerEntry, 'manager' | 'operation' | 'apiVersion' | 'subresource'>;
    path: Path;
    id?: string;
  }[],
): StatusError {
  const causes: StatusCause[] = items.map((c) => ({
    reason: 'FieldManagerConflict',
    message: `conflict with ${describeManager(c.entry)}`,
    field: pathToString(c.path),
  }));
  let message: string;
  if (items.length === 1) {
    message = `Apply failed with 1 conflict: conflict with ${describeManager(items[0].entry)}: ${pathToString(items[0].path)}`;
  } else {
    const groups = new Map<string, typeof items>();
    for (const c of items) {
      const id = c.id ?? managerIdentity(c.entry);
      const g = groups.get(id);
      if (g) g.push(c);
      else groups.set(id, [c]);
    }
    const lines: string[] = [];
    for (const id of [...groups.keys()].sort(compareStrings)) {
      const g = groups.get(id)!;
      lines.push(`conflicts with ${describeManager(g[0].entry)}:`);
      for (const c of g) lines.push(`- ${pathToString(c.path)}`);
    }
    message = `Apply failed with ${items.length} conflicts: ${lines.join('\n')}`;
  }
  return new StatusError(409, 'Conflict', message, { causes });
}

function gvkString(apiVersion: string, kind: string): string {
  const parts = apiVersion.split('/');
  if (parts.length === 1) return `/${apiVersion}, Kind=${kind}`;
  if (parts.length === 2) return `${parts[0]}/${parts[1]}, Kind=${kind}`;
  return `/, Kind=${kind}`;
}

interface Ctx {
  o: ApplyOptions;
  root: MapType;
  body: Obj;
  manager: string;
  subresource: string;
  filter: Filter;
  live: Obj | undefined;
  /** live without managedFields, or `{}` when creating. */
  liveValue: Obj;
  liveManaged: Managed;
  now: Date;
}

interface ApplyResult {
  candidate: Obj;
  managed: Managed;
  changed: boolean;
}

/** CRD strategies: the main resource keeps the stored status, /status keeps everything but status. */
function resetObject(candidate: Obj, live: Obj, c: Ctx): Obj {
  if (c.subresource === 'status') {
    const out: Obj = { ...live };
    delete out.status;
    if (candidate.status !== undefined) out.status = candidate.status;
    return out;
  }
  if (c.o.statusSubresource) {
    const out: Obj = { ...candidate };
    if (live.status !== undefined) out.status = live.status;
    else delete out.status;
    return out;
  }
  return candidate;
}

function applyOnce(c: Ctx, force: boolean): ApplyResult {
  const managed: Managed = new Map(c.liveManaged);
  const apiVersion = c.o.apiVersion;
  if (c.live && managed.size === 0) {
    // SkipNonApplied: the object was never tracked; attribute what exists to before-first-apply.
    const empty: Obj = { apiVersion: c.o.apiVersion, kind: c.o.kind };
    recordUpdate(
      managed,
      empty,
      c.liveValue,
      { manager: BEFORE_FIRST_APPLY_MANAGER, apiVersion, subresource: c.subresource },
      c.filter,
      c.now,
      c.root,
    );
    capUpdateManagers(managed, c.o.maxUpdateManagers ?? DEFAULT_MAX_UPDATE_MANAGERS);
  }
  const merged = mergeValues(c.liveValue, c.body, c.root) as Obj;
  const applierId = managerIdentity({ manager: c.manager, operation: 'Apply', apiVersion, subresource: c.subresource });
  const last = managed.get(applierId);
  const applier: ManagerEntry = {
    manager: c.manager,
    operation: 'Apply',
    apiVersion,
    subresource: c.subresource,
    set: c.filter(toFieldSet(c.body, c.root)),
  };
  if (last?.time) applier.time = last.time;
  managed.set(applierId, applier);

  let owned: FieldSet = FieldSet.EMPTY;
  for (const e of managed.values()) owned = owned.union(e.set);
  const pruned = prune(merged, owned, last?.set, c.root, applier.set) as Obj;
  const candidate = resetObject(isPlainObject(pruned) ? pruned : {}, c.liveValue, c);

  const cmp = filterComparison(compareObjects(c.liveValue, candidate, c.root), c.filter);
  const changedSet = cmp.modified.union(cmp.added);
  const conflicts: ConflictItem[] = [];
  const ids = [...managed.keys()].filter((id) => id !== applierId).sort(compareStrings);
  for (const id of ids) {
    const e = managed.get(id)!;
    const cs = e.set.intersection(changedSet);
    for (const path of cs.paths()) conflicts.push({ id, entry: e, path });
  }
  if (conflicts.length > 0 && !force) throw new Conflicts(conflicts);
  for (const id of ids) {
    const e = managed.get(id)!;
    const s = e.set.difference(changedSet).difference(cmp.removed);
    if (s.isEmpty()) managed.delete(id);
    else if (s !== e.set) managed.set(id, { ...e, set: s });
  }
  const stripped = applier.set.difference(STRIP_SET);
  if (stripped.isEmpty()) managed.delete(applierId);
  else applier.set = stripped;

  const changed = !valuesEqual(c.liveValue, candidate);
  if (changed) applier.time = formatTime(c.now);
  return { candidate, managed, changed };
}

/** The fields the client-side apply annotation proves kubectl owned (LastAppliedManager). */
function allowedFromLastApplied(c: Ctx): FieldSet | null {
  const annotations = (c.live?.metadata as Obj | undefined)?.annotations;
  const text = isPlainObject(annotations) ? annotations[LAST_APPLIED_ANNOTATION] : undefined;
  if (typeof text !== 'string' || text === '') return null;
  let lastApplied: unknown;
  try {
    lastApplied = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isPlainObject(lastApplied) || lastApplied.apiVersion !== c.o.apiVersion) return null;
  if (validateValue(lastApplied, c.root).length > 0) return null;
  const set = toFieldSet(lastApplied, c.root);
  const cmp = compareObjects(lastApplied, c.live, c.root);
  return set.difference(cmp.modified).difference(cmp.added).difference(cmp.removed);
}

const TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024;

/** LastAppliedUpdater: kubectl's SSA keeps an existing last-applied annotation in sync with the config. */
function syncLastApplied(obj: Obj, body: Obj): void {
  const meta = obj.metadata;
  if (!isPlainObject(meta) || !isPlainObject(meta.annotations)) return;
  const annotations = meta.annotations as Record<string, string>;
  if (typeof annotations[LAST_APPLIED_ANNOTATION] !== 'string' || annotations[LAST_APPLIED_ANNOTATION] === '') return;
  const copy = cloneValue(body);
  const cm = copy.metadata;
  if (isPlainObject(cm) && isPlainObject(cm.annotations)) delete cm.annotations[LAST_APPLIED_ANNOTATION];
  annotations[LAST_APPLIED_ANNOTATION] = goJSON(copy) + '\n';
  let size = 0;
  for (const [k, v] of Object.entries(annotations)) size += Buffer.byteLength(k) + Buffer.byteLength(String(v));
  if (size > TOTAL_ANNOTATION_SIZE_LIMIT) delete annotations[LAST_APPLIED_ANNOTATION];
}

/**
 * Server-side apply of `applied` over `live`. Returns the object to store (with
 * managedFields), or throws a StatusError:
 * - 400 `invalid object type: <group>/<version>, Kind=<Kind>` when the body's apiVersion/kind
 *   differ from the endpoint's; 400 `metadata.managedFields must be nil`; 400 when the body's
 *   name/namespace differ from the URL's; 400 `failed to create typed patch object (...): ...`
 *   for schema errors (undeclared fields, wrong types, duplicate or keyless list items);
 * - 409 Conflict (`Apply failed with N conflict(s): ...`, causes `FieldManagerConflict`) unless
 *   `force`; for manager `kubectl`, conflicts the last-applied annotation accounts for are forced.
 * The result is unchanged (deep-equal to `live`, same timestamps) when the apply is a no-op.
 */
export function applyPatch(o: ApplyOptions): KubeObject {
  resetItemMemo();
  const body: Obj = isPlainObject(o.applied) ? o.applied : {};
  const bodyVersion = typeof body.apiVersion === 'string' ? body.apiVersion : '';
  const bodyKind = typeof body.kind === 'string' ? body.kind : '';
  if (bodyVersion !== o.apiVersion || bodyKind !== o.kind)
    throw badRequest(`invalid object type: ${gvkString(bodyVersion, bodyKind)}`);
  const meta = isPlainObject(body.metadata) ? body.metadata : {};
  if (meta.managedFields !== undefined && meta.managedFields !== null)
    throw badRequest('metadata.managedFields must be nil');
  const bodyName = typeof meta.name === 'string' ? meta.name : '';
  const bodyNamespace = typeof meta.namespace === 'string' ? meta.namespace : '';
  if (o.name !== undefined && bodyName !== o.name) {
    throw badRequest(`the name of the object (${bodyName}) does not match the name on the URL (${o.name})`);
  }
  if (o.namespace && bodyNamespace && bodyNamespace !== o.namespace) {
    throw badRequest(
      `the namespace of the object (${bodyNamespace}) does not match the namespace on the URL (${o.namespace})`,
    );
  }
  if (o.subresource && !o.live) throw new Error('applyPatch: an apply to a subresource needs the live object');
  const root = kindType(o.schema);
  const errs = validateValue(body, root);
  if (errs.length > 0) {
    throw badRequest(
      `failed to create typed patch object (${bodyNamespace}/${bodyName}; ${gvkString(bodyVersion, bodyKind)}): ${formatValidationErrors(errs)}`,
    );
  }
  let liveManaged: Managed;
  try {
    liveManaged = decodeManagedFields(o.live?.metadata?.managedFields);
  } catch (err) {
    throw internalError(new Error(`failed to decode managed fields: ${(err as Error).message}`));
  }
  const subresource = o.subresource ?? '';
  const live = o.live as Obj | undefined;
  const c: Ctx = {
    o,
    root,
    body,
    manager: o.manager || 'unknown',
    subresource,
    filter: resetFilter(subresource, o.statusSubresource),
    live,
    liveValue: live ? withoutManagedFields(live) : {},
    liveManaged,
    now: o.now ?? new Date(),
  };

  let result: ApplyResult;
  try {
    result = applyOnce(c, o.force ?? false);
  } catch (err) {
    if (!(err instanceof Conflicts)) throw err;
    if (c.manager !== 'kubectl' || !live) throw conflictError(err.items);
    const allowed = allowedFromLastApplied(c);
    if (!allowed) throw conflictError(err.items);
    const remaining = err.items.filter((i) => !allowed.has(i.path));
    if (remaining.length > 0) throw conflictError(remaining);
    result = applyOnce(c, true);
  }

  const obj: Obj = cloneValue(result.changed || !live ? result.candidate : c.liveValue);
  if (result.changed) {
    pruneNulls(obj, o.schema);
    o.defaulter?.(obj);
  }
  if (c.manager === 'kubectl') syncLastApplied(obj, body);
  const mf = encodeManagedFields(result.managed);
  const liveMF = o.live?.metadata?.managedFields;
  if (live && managedFieldsEqualIgnoringTime(liveMF, mf) && valuesEqual(withoutManagedFields(obj), c.liveValue))
    setManagedFields(obj, cloneValue(liveMF));
  else setManagedFields(obj, mf);
  return obj as KubeObject;
}

// ---- request-level helpers -----------------------------------------------------------------

/**
 * Drops `null` from fields whose schema is not nullable (or replaces it by the field's
 * default), as kube does for custom resources (PruneNonNullableNullsWithoutDefaults and
 * structural defaulting); null ObjectMeta fields are dropped too. In place.
 */
export function pruneNulls(obj: Record<string, unknown>, schema: JSONSchema): void {
  for (const k of ['apiVersion', 'kind', 'metadata']) if (obj[k] === null) delete obj[k];
  const meta = obj.metadata;
  if (isPlainObject(meta)) for (const k of Object.keys(meta)) if (meta[k] === null) delete meta[k];
  pruneNullsInto(obj, schema);
}

function pruneNullsInto(v: unknown, s: JSONSchema | undefined): void {
  if (!s) return;
  if (Array.isArray(v)) {
    for (const item of v) if (item !== null) pruneNullsInto(item, s.items);
    return;
  }
  if (!isPlainObject(v)) return;
  for (const k of Object.keys(v)) {
    const child = v[k];
    const prop = s.properties?.[k];
    if (prop) {
      if (child === null && !prop.nullable) {
        if (prop.default !== undefined) v[k] = cloneValue(prop.default);
        else delete v[k];
      } else if (child !== null) pruneNullsInto(child, prop);
    } else if (isPlainObject(s.additionalProperties) && child !== null) {
      pruneNullsInto(child, s.additionalProperties as JSONSchema);
    }
  }
}

export type PatchType = 'apply' | 'merge' | 'json' | 'strategic';

/**
 * PatchOptions validation: fieldManager required for apply (422 `fieldManager: Required value:
 * is required for apply patch`), `force` forbidden for other patches, manager ≤128 bytes
 * without control characters.
 */
export function validatePatchOptions(opts: { patchType: PatchType; fieldManager?: string; force?: boolean }): void {
  const errs: FieldError[] = [];
  if (opts.patchType === 'apply') {
    if (!opts.fieldManager)
      errs.push({ type: 'FieldValueRequired', field: 'fieldManager', detail: 'is required for apply patch' });
  } else if (opts.force !== undefined) {
    errs.push({ type: 'FieldValueForbidden', field: 'force', detail: 'may not be specified for non-apply patch' });
  }
  errs.push(...validateFieldManager(opts.fieldManager ?? '', 'fieldManager'));
  if (errs.length > 0) throw invalid('PatchOptions', 'meta.k8s.io', '', errs);
}

/**
 * Decodes an `application/apply-patch+yaml` body (YAML or JSON) as sigs.k8s.io/yaml does
 * (YAML 1.1 scalars). Duplicate keys: 400 with fieldValidation=Strict (kubectl's default),
 * a warning with Warn, ignored with Ignore.
 */
export function decodeApplyBody(
  text: string,
  fieldValidation: 'Strict' | 'Warn' | 'Ignore' = 'Strict',
): { object: unknown; warnings: string[] } {
  const warnings: string[] = [];
  let object: unknown;
  try {
    // Through JSON, as kube converts YAML: an alias can make a cycle (`&a [*a]`) and tags make
    // Dates or byte arrays; the apply machinery expects plain JSON values.
    object = JSON.parse(JSON.stringify(parseYAML(text, { version: '1.1', uniqueKeys: false })) ?? 'null');
  } catch (err) {
    throw badRequest(`error decoding YAML: ${(err as Error).message}`);
  }
  if (fieldValidation !== 'Ignore') {
    try {
      parseYAML(text, { version: '1.1', uniqueKeys: true });
    } catch (err) {
      const detail = (err as Error).message.split('\n')[0];
      if (fieldValidation === 'Strict') throw badRequest(`error strict decoding patch: ${detail}`);
      warnings.push(detail);
    }
  }
  return { object: object ?? {}, warnings };
}
