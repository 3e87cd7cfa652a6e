// The generic registry store: one implementation of every verb for every kind, on top of the
// revisioned storage interface (k8s.io/apiserver/pkg/registry/generic/registry/store.go).
// Kind-specific behaviour comes from the definition's schema and an optional Strategy.

import { randomUUID, randomInt } from 'node:crypto';
import {
  CompactedError,
  FutureRevisionError,
  KeyExistsError,
  KeyNotFoundError,
  PreconditionFailedError,
  type KeyValue,
  type Store,
  type WatchEvent,
} from '../../storage/interface.js';
import {
  alreadyExists,
  badRequest,
  conflict,
  expired,
  type FieldError,
  invalid,
  isNotFound,
  isStatusError,
  notFound,
  OBJECT_MODIFIED,
  type Target,
  timeout,
} from '../../machinery/errors.js';
import { parseFieldSelector, type FieldSelector } from '../../machinery/fields.js';
import { parseLabelSelector, type Selector } from '../../machinery/labels.js';
import { applyDefaults, prune } from '../schema/structural.js';
import { compileObjectValidator, type SchemaValidator } from '../schema/validator.js';
import { groupVersion, type ResourceDefinition } from '../../machinery/definition.js';
import { validateObjectMeta } from './metadata-validation.js';
import { encodeForStorage, rememberServedJSON, ServedObject, servedJSON } from '../storage/encoding.js';
import { deepClone, displayValue, isPlainObject, jsonEqual, type KubeObject } from '../../machinery/object.js';
import { formatTime } from '../../machinery/time.js';
import type { Strategy } from './strategy.js';
import { readJSONPath, writeJSONPath } from './jsonpath.js';
import { updateManagedFields } from '../apply/apply.js';
import type { AdmissionAttributes, Operation } from '../admission/types.js';
import type { UserInfo } from '../authentication/authenticator.js';
import type { AdmissionHook } from './admission-hook.js';
import type { NamespaceLifecycle } from '../admission/namespace-lifecycle.js';
import {
  listOfServed,
  type ListResult,
  type RegistryWatch,
  type ResourceCache,
  type StorageDecorator,
  type WatchSink,
} from '../storage/interface.js';

export interface ListOptions {
  labelSelector?: string | null;
  fieldSelector?: string | null;
  limit?: number;
  continue?: string | null;
  resourceVersion?: string | null;
  resourceVersionMatch?: string | null;
}

export interface WriteOptions {
  dryRun?: boolean;
  /** Unknown-field handling: Strict fails, Warn reports, Ignore drops silently. */
  fieldValidation?: 'Strict' | 'Warn' | 'Ignore';
  /** Collects warnings (e.g. unknown fields) for Warning headers. */
  warnings?: string[];
  /** The writer recorded in managedFields (fieldManager, else from the User-Agent). */
  fieldManager?: string;
  /** The object is a server-side apply result whose managedFields are already computed. */
  applied?: boolean;
  /** managedFields subresource for writes through /scale. */
  fieldsSubresource?: 'scale';
  /** The caller, for admission webhooks; internal writes act as the API server itself. */
  user?: UserInfo;
}

export type PropagationPolicy = 'Orphan' | 'Background' | 'Foreground';

export interface DeleteOptions extends WriteOptions {
  preconditions?: { uid?: string; resourceVersion?: string };
  /** Orphan and Foreground hand the object to the garbage collector through a finalizer. */
  propagationPolicy?: PropagationPolicy;
}

export const orphanFinalizer = 'orphan';
export const foregroundFinalizer = 'foregroundDeletion';

/** The finalizers after a delete request: Orphan and Foreground replace each other
 * (registry/generic/registry/store.go deletionFinalizersForGarbageCollection). */
function withPropagationFinalizer(finalizers: string[], policy: PropagationPolicy | undefined): string[] {
  if (policy === 'Orphan')
    return [...finalizers.filter((f) => f !== foregroundFinalizer && f !== orphanFinalizer), orphanFinalizer];
  if (policy === 'Foreground')
    return [...finalizers.filter((f) => f !== foregroundFinalizer && f !== orphanFinalizer), foregroundFinalizer];
  if (policy === 'Background') return finalizers.filter((f) => f !== foregroundFinalizer && f !== orphanFinalizer);
  return finalizers;
}

export interface DeleteResult {
  object: KubeObject;
  /** False when finalizers hold the object and only deletionTimestamp was set. */
  deleted: boolean;
}

export interface WatchOptions {
  labelSelector?: string | null;
  fieldSelector?: string | null;
  resourceVersion?: string | null;
}

/** A mutation of the current object; returns the desired object. May throw StatusErrors. */
export type UpdateFn = (current: KubeObject) => KubeObject | Promise<KubeObject>;

const generateNameAlphabet = 'bcdfghjklmnpqrstvwxz2456789';
const maxGenerateNameAttempts = 8;
/** How long a list or get for a future resourceVersion waits before 504 (kube: 3 s). */
const futureRevisionWait = 3000;

export interface ResourceStoreOptions {
  /** Puts a cache in front of storage (the server passes the watch cache's); without one every
   * list and watch reads storage. */
  decorator?: StorageDecorator;
}

export class ResourceStore {
  readonly validator: SchemaValidator;
  /** Admission webhooks consulted on writes (set by the server that has them). */
  admission?: AdmissionHook;
  /** NamespaceLifecycle admission, first of the chain (set by the server that knows its namespaces). */
  lifecycle?: NamespaceLifecycle;
  readonly fieldSelectors: string[];
  /** Serves watches and the lists it can (see the decorator's policy); undefined reads storage. */
  readonly cache: ResourceCache | undefined;

  constructor(
    readonly def: ResourceDefinition,
    private readonly store: Store,
    private readonly strategy: Strategy = {},
    options: ResourceStoreOptions = {},
  ) {
    this.validator = compileObjectValidator(def.schema);
    this.fieldSelectors = [
      'metadata.name',
      ...(def.namespaced ? ['metadata.namespace'] : []),
      ...(def.selectableFields ?? []),
    ];
    this.cache = options.decorator?.(store, this.prefix(), {
      decode: (kv) => this.decode(kv),
      fieldsOf: (obj) => this.fieldsOf(obj),
    });
  }

  get apiVersion(): string {
    return groupVersion(this.def);
  }

  target(name?: string): Target {
    return { group: this.def.group, resource: this.def.plural, name };
  }

  private prefix(namespace?: string): string {
    const base = `/registry/${this.def.group || 'core'}/${this.def.plural}/`;
    return this.def.namespaced && namespace ? `${base}${namespace}/` : base;
  }

  private key(namespace: string, name: string): string {
    return this.def.namespaced ? `${this.prefix(namespace)}${name}` : `${this.prefix()}${name}`;
  }

  private decode(kv: { value: string; modRevision: number }): KubeObject {
    const obj = JSON.parse(kv.value) as KubeObject;
    obj.metadata.resourceVersion = String(kv.modRevision);
    return obj;
  }

  private encode(obj: KubeObject): string {
    return encodeForStorage(obj);
  }

  // ---- reads ---------------------------------------------------------------------------

  async get(namespace: string, name: string): Promise<KubeObject> {
    return this.decode(await this.getStored(namespace, name));
  }

  /** The object as served: its JSON, parsed only if a caller asks for the object. */
  async getServed(namespace: string, name: string): Promise<ServedObject> {
    return ServedObject.fromStored(await this.getStored(namespace, name));
  }

  private async getStored(namespace: string, name: string): Promise<KeyValue> {
    const kv = await this.store.get(this.key(namespace, name));
    if (!kv) throw notFound(this.target(name));
    return kv;
  }

  async list(namespace: string | undefined, opts: ListOptions = {}): Promise<ListResult> {
    const labels = parseLabelSelector(opts.labelSelector);
    const fields = parseFieldSelector(opts.fieldSelector, this.fieldSelectors);
    const limit = opts.limit && opts.limit > 0 ? opts.limit : 0;
    const prefix = this.prefix(namespace);

    let revision = 0;
    let startAfter: string | undefined;
    const rv = opts.resourceVersion ?? '';
    const match = opts.resourceVersionMatch ?? '';
    validateListVersioning(rv, match, opts.continue ?? '');
    if (this.cache) {
      const query = { rv, match, limit, continueToken: opts.continue ?? '' };
      const cached = await this.cache.list({ keyPrefix: prefix, labels, fields }, query, (revision, lastKey) =>
        encodeContinue(revision, lastKey.slice(prefix.length)),
      );
      if (cached) return cached;
    }
    if (opts.continue) {
      const token = decodeContinue(opts.continue);
      revision = token.rv;
      startAfter = prefix + token.start;
      // kube path.Cleans the start key and refuses one that changes (empty, `.` or `..` segments).
      if (
        !token.start ||
        !startAfter.startsWith(prefix) ||
        `/${token.start}`
          .split('/')
          .slice(1)
          .some((seg) => seg === '' || seg === '.' || seg === '..')
      ) {
        throw badRequest('continue key is not valid: invalid continue token');
      }
    } else if (rv !== '' && rv !== '0') {
      // kube's semantics: Exact, or a limited list without a match, reads exactly at the
      // revision; NotOlderThan (or no match and no limit) reads the latest state once the
      // store has reached it.
      const wanted = parseResourceVersion(rv);
      await this.waitForRevision(wanted);
      if (match === 'Exact' || (match === '' && limit > 0)) revision = wanted;
    }

    const filtered = !labels.isEmpty() || !fields.isEmpty();
    const items: ServedObject[] = [];
    let cursor = startAfter;
    let lastKey: string | undefined;
    let more = false;
    let remaining = 0;
    for (;;) {
      const wanted = limit - items.length;
      const batch = limit ? (filtered ? Math.max(wanted, 500) : wanted) : 0;
      let page;
      try {
        page = await this.store.list(prefix, { revision, startAfter: cursor, limit: batch });
      } catch (err) {
        throw this.translateReadError(err, !!opts.continue);
      }
      revision = page.revision;
      let consumed = 0;
      for (const kv of page.items) {
        consumed++;
        lastKey = kv.key;
        if (!filtered) {
          items.push(ServedObject.fromStored(kv));
        } else {
          const obj = this.decode(kv);
          if (this.matches(obj, labels, fields))
            items.push(ServedObject.fromJSON(servedJSON(kv.value, kv.modRevision), obj));
        }
        if (limit && items.length === limit) break;
      }
      const leftInPage = page.items.length - consumed;
      if (limit && items.length === limit) {
        if (leftInPage > 0 || page.more) {
          more = true;
          remaining = leftInPage + page.remaining;
        }
        break;
      }
      if (!page.more || page.items.length === 0) break;
      cursor = page.items[page.items.length - 1].key;
    }
    const result = listOfServed(items, String(revision));
    if (more && lastKey) {
      result.continue = encodeContinue(revision, lastKey.slice(prefix.length));
      if (!filtered) result.remainingItemCount = remaining;
    }
    return result;
  }

  private translateReadError(err: unknown, forContinue: boolean): unknown {
    if (err instanceof CompactedError) {
      return forContinue
        ? expired(
            'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.',
          )
        : expired('The resourceVersion for the provided list is too old.');
    }
    if (err instanceof FutureRevisionError) {
      return timeout('Too large resource version', 1, {
        reason: 'ResourceVersionTooLarge',
        message: `Too large resource version: ${err.requested}, current: ${err.current}`,
      });
    }
    return err;
  }

  /** Waits briefly for the store to reach a revision a client has seen elsewhere, then 504. */
  private async waitForRevision(wanted: number): Promise<void> {
    const deadline = Date.now() + futureRevisionWait;
    for (;;) {
      const current = await this.store.currentRevision();
      if (current >= wanted) return;
      if (Date.now() >= deadline) {
        throw timeout('Too large resource version', 1, {
          reason: 'ResourceVersionTooLarge',
          message: `Too large resource version: ${wanted}, current: ${current}`,
        });
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  fieldsOf(obj: KubeObject): Record<string, string> {
    const out: Record<string, string> = { 'metadata.name': obj.metadata.name ?? '' };
    if (this.def.namespaced) out['metadata.namespace'] = obj.metadata.namespace ?? '';
    for (const f of this.def.selectableFields ?? []) {
      const v = readJSONPath(obj, `.${f}`);
      out[f] = v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
    }
    return out;
  }

  private matches(obj: KubeObject, labels: Selector, fields: FieldSelector): boolean {
    return labels.matches(obj.metadata.labels) && (fields.isEmpty() || fields.matches(this.fieldsOf(obj)));
  }

  // ---- create --------------------------------------------------------------------------

  async create(namespace: string, body: unknown, opts: WriteOptions = {}): Promise<KubeObject> {
    let obj = this.decodeBody(body, namespace);
    await this.admitLifecycle('CREATE', this.def.namespaced ? namespace : '', obj.metadata.name ?? '');
    for (const k of [
      'uid',
      'resourceVersion',
      'deletionTimestamp',
      'deletionGracePeriodSeconds',
      'generation',
      'selfLink',
    ] as const)
      delete obj.metadata[k];
    obj.metadata.uid = randomUUID();
    obj.metadata.creationTimestamp = formatTime();
    obj.metadata.generation = 1;
    if (this.def.subresources.status) delete obj['status'];
    this.admitSchema(obj, opts);
    obj = await this.mutate('CREATE', obj, null, opts);
    const meta = obj.metadata;

    const generate = !meta.name && typeof meta.generateName === 'string' && meta.generateName !== '';
    if (!generate) this.prepareAndValidateCreate(obj, opts);
    for (let attempt = 0; ; attempt++) {
      if (generate) {
        meta.name = generateName(meta.generateName!);
        this.prepareAndValidateCreate(obj, opts);
      }
      if (attempt === 0) await this.validateAdmission('CREATE', obj, null, opts);
      if (opts.dryRun) {
        const existing = await this.store.get(this.key(namespace, meta.name!));
        if (existing && !generate) throw alreadyExists(this.target(meta.name));
        if (existing) continue;
        return obj;
      }
      try {
        const stored = this.encode(obj);
        const kv = await this.store.create(this.key(namespace, meta.name!), stored);
        // The object is this request's own: it only lacks the write's resourceVersion.
        meta.resourceVersion = String(kv.modRevision);
        rememberServedJSON(obj, servedJSON(stored, kv.modRevision));
        return obj;
      } catch (err) {
        if (err instanceof KeyExistsError) {
          if (generate && attempt + 1 < maxGenerateNameAttempts) continue;
          throw alreadyExists(this.target(meta.name));
        }
        throw err;
      }
    }
  }

  private async admitLifecycle(operation: 'CREATE' | 'DELETE', namespace: string, name: string): Promise<void> {
    await this.lifecycle?.admit({ operation, group: this.def.group, resource: this.def.plural, namespace, name });
  }

  private prepareAndValidateCreate(obj: KubeObject, opts: WriteOptions): void {
    const { name: given, generateName } = obj.metadata;
    const name = (typeof given === 'string' && given) || (typeof generateName === 'string' && generateName) || '';
    this.strategyHook(obj, name, () => this.strategy.prepareForCreate?.(obj));
    if (!opts.applied) this.trackManagedFields(undefined, obj, opts);
    this.validateOrThrow(obj, name, [...(this.strategyHook(obj, name, () => this.strategy.validate?.(obj)) ?? [])]);
  }

  /**
   * Runs a strategy hook. Hooks may rely on the schema's types (spec is an object, volumes a
   * list); when one trips over a mistyped field the object is invalid, and the schema errors that
   * say why are the answer (422), not the TypeError (500).
   */
  private strategyHook<T>(obj: KubeObject, name: string, hook: () => T): T {
    try {
      return hook();
    } catch (err) {
      if (!isStatusError(err)) this.validateOrThrow(obj, name, []);
      throw err;
    }
  }

  private admissionAttributes(
    operation: Operation,
    object: KubeObject | null,
    oldObject: KubeObject | null,
    opts: WriteOptions,
    subResource = '',
  ): AdmissionAttributes {
    const meta = (object ?? oldObject)?.metadata ?? {};
    return {
      operation,
      kind: { group: this.def.group, version: this.def.version, kind: this.def.kind },
      resource: { group: this.def.group, version: this.def.version, resource: this.def.plural },
      subResource,
      name: meta.name ?? '',
      namespace: this.def.namespaced ? (meta.namespace ?? '') : '',
      object,
      oldObject,
      userInfo: opts.user ?? { username: 'system:apiserver', groups: ['system:masters', 'system:authenticated'] },
      dryRun: !!opts.dryRun,
      ...(opts.warnings ? { warnings: opts.warnings } : {}),
    };
  }

  /** Mutating admission: returns the (possibly patched) object, re-pruned and re-defaulted. */
  private async mutate(
    operation: Operation,
    obj: KubeObject,
    old: KubeObject | null,
    opts: WriteOptions,
    subResource = '',
  ): Promise<KubeObject> {
    if (!this.admission) return obj;
    const { object } = await this.admission.admit(this.admissionAttributes(operation, obj, old, opts, subResource));
    if (!object || object === obj) return obj;
    const patched = deepClone(object);
    // Server-owned metadata is not the webhook's to change.
    for (const k of ['uid', 'creationTimestamp', 'generation', 'resourceVersion', 'namespace', 'name'] as const) {
      if (obj.metadata[k] === undefined) delete patched.metadata[k];
      else (patched.metadata as Record<string, unknown>)[k] = obj.metadata[k];
    }
    this.admitSchema(patched, { ...opts, fieldValidation: 'Ignore' });
    return patched;
  }

  private async validateAdmission(
    operation: Operation,
    obj: KubeObject | null,
    old: KubeObject | null,
    opts: WriteOptions,
    subResource = '',
  ): Promise<void> {
    if (this.admission) await this.admission.validate(this.admissionAttributes(operation, obj, old, opts, subResource));
  }

  /** Records the writer's changed fields in metadata.managedFields (an Update operation). */
  private trackManagedFields(
    old: KubeObject | undefined,
    obj: KubeObject,
    opts: WriteOptions,
    subresource?: 'status',
  ): void {
    const tracked = updateManagedFields({
      old,
      updated: obj,
      manager: opts.fieldManager || 'unknown',
      apiVersion: this.apiVersion,
      schema: this.def.schema,
      subresource: subresource ?? opts.fieldsSubresource,
      statusSubresource: !!this.def.subresources.status,
    });
    if (tracked.metadata.managedFields === undefined) delete obj.metadata.managedFields;
    else obj.metadata.managedFields = tracked.metadata.managedFields;
  }

  /** Checks apiVersion/kind/namespace of a request body against the URL. */
  decodeBody(body: unknown, namespace: string, kind = this.def.kind, apiVersion = this.apiVersion): KubeObject {
    if (!isPlainObject(body)) throw badRequest('the body of the request must be a JSON object');
    const obj = deepClone(body) as KubeObject;
    if (!obj.kind) throw badRequest(`Object 'Kind' is missing in '${truncate(JSON.stringify(body))}'`);
    if (!obj.apiVersion) throw badRequest(`Object 'apiVersion' is missing in '${truncate(JSON.stringify(body))}'`);
    if (obj.kind !== kind || obj.apiVersion !== apiVersion) {
      throw badRequest(
        `the API version in the data (${displayValue(obj.apiVersion)}) does not match the expected API version (${apiVersion})`,
      );
    }
    if (obj.metadata === undefined || obj.metadata === null) obj.metadata = {};
    if (!isPlainObject(obj.metadata)) throw badRequest('metadata must be an object');
    if (this.def.namespaced) {
      if (obj.metadata.namespace && obj.metadata.namespace !== namespace) {
        throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      obj.metadata.namespace = namespace;
    } else if (obj.metadata.namespace) {
      // kube clears the namespace of cluster-scoped objects instead of failing.
      delete obj.metadata.namespace;
    }
    return obj;
  }

  /** Pruning, defaulting, then field-validation handling of unknown fields. */
  private admitSchema(obj: KubeObject, opts: WriteOptions): void {
    const { apiVersion, kind, metadata, ...rest } = obj;
    const unknown = prune(rest, this.def.schema);
    if (unknown.length > 0) {
      if (opts.fieldValidation === 'Strict') {
        throw badRequest(
          `${this.def.kind} in version "${this.def.version}" cannot be handled as a ${this.def.kind}: strict decoding error: ${unknown.map((u) => `unknown field "${u}"`).join(', ')}`,
        );
      }
      if (opts.fieldValidation !== 'Ignore') for (const u of unknown) opts.warnings?.push(`unknown field "${u}"`);
    }
    applyDefaults(rest, this.def.schema);
    for (const k of Object.keys(obj)) if (!['apiVersion', 'kind', 'metadata'].includes(k)) delete obj[k];
    Object.assign(obj, { apiVersion, kind, metadata }, rest);
  }

  private validateOrThrow(obj: KubeObject, name: string, extra: FieldError[]): void {
    const errors = [
      ...validateObjectMeta(obj.metadata, {
        namespaced: this.def.namespaced,
        ...(this.strategy.validateName ? { nameValidator: (n: string) => this.strategy.validateName!(n) } : {}),
      }),
      ...this.validator.validate(obj),
      ...extra,
    ];
    if (errors.length > 0) throw invalid(this.def.kind, this.def.group, name, errors);
  }

  // ---- update --------------------------------------------------------------------------

  /**
   * Read-modify-write with optimistic concurrency (GuaranteedUpdate): retries on a storage
   * conflict unless the caller's update pinned a resourceVersion, in which case the conflict
   * is the caller's and answers 409.
   */
  async guaranteedUpdate(
    namespace: string,
    name: string,
    update: UpdateFn,
    opts: WriteOptions & { subresource?: 'status' | 'finalize' } = {},
  ): Promise<KubeObject> {
    const key = this.key(namespace, name);
    for (;;) {
      const kv = await this.store.get(key);
      if (!kv) throw notFound(this.target(name));
      const current = this.decode(kv);
      // A second parse is the cheapest deep copy of a stored object.
      let desired = await update(this.decode(kv));
      const pinned = desired.metadata.resourceVersion;
      desired = await this.mutate('UPDATE', desired, current, opts, opts.subresource ?? opts.fieldsSubresource ?? '');
      if (pinned !== undefined && pinned !== '' && pinned !== current.metadata.resourceVersion) {
        throw conflict(this.target(name), OBJECT_MODIFIED);
      }
      const next =
        opts.subresource === 'status'
          ? this.prepareStatusUpdate(desired, current, opts)
          : opts.subresource === 'finalize'
            ? this.prepareFinalize(desired, current)
            : this.prepareUpdate(desired, current, opts);
      if (jsonEqual(stripRV(next), stripRV(current))) return current;
      await this.validateAdmission('UPDATE', next, current, opts, opts.subresource ?? opts.fieldsSubresource ?? '');
      if (isBeingDeleted(next) && !this.isHeld(next)) {
        if (opts.dryRun) return next;
        return this.deleteNow(key, kv, pinned !== undefined && pinned !== '', name).then((r) => r.object);
      }
      if (opts.dryRun) return next;
      try {
        const stored = this.encode(next);
        const written = await this.store.update(key, stored, { modRevision: kv.modRevision });
        next.metadata.resourceVersion = String(written.modRevision);
        rememberServedJSON(next, servedJSON(stored, written.modRevision));
        return next;
      } catch (err) {
        if (err instanceof PreconditionFailedError) {
          if (pinned) throw conflict(this.target(name), OBJECT_MODIFIED);
          continue;
        }
        if (err instanceof KeyNotFoundError) throw notFound(this.target(name));
        throw err;
      }
    }
  }

  /** PUT of the main resource. */
  async update(namespace: string, name: string, body: unknown, opts: WriteOptions = {}): Promise<KubeObject> {
    const obj = this.decodeBody(body, namespace);
    if (obj.metadata.name && obj.metadata.name !== name) {
      throw badRequest(
        `the name of the object (${displayValue(obj.metadata.name)}) does not match the name on the URL (${name})`,
      );
    }
    obj.metadata.name = name;
    if (!obj.metadata.resourceVersion) {
      throw invalid(this.def.kind, this.def.group, name, [
        {
          type: 'FieldValueInvalid',
          field: 'metadata.resourceVersion',
          value: '0x0',
          detail: 'must be specified for an update',
        },
      ]);
    }
    return this.guaranteedUpdate(namespace, name, () => obj, opts);
  }

  /** Builds the stored form of a main-resource update from the desired and current objects. */
  prepareUpdate(desired: KubeObject, current: KubeObject, opts: WriteOptions): KubeObject {
    const next = deepClone(desired);
    next.apiVersion = current.apiVersion;
    next.kind = current.kind;
    const meta = next.metadata;
    const cur = current.metadata;
    if (meta.uid && meta.uid !== cur.uid) {
      throw conflict(
        this.target(cur.name),
        `Precondition failed: UID in precondition: ${displayValue(meta.uid)}, UID in object meta: ${cur.uid}`,
      );
    }
    meta.name = cur.name;
    if (this.def.namespaced) meta.namespace = cur.namespace;
    else delete meta.namespace;
    meta.uid = cur.uid;
    meta.creationTimestamp = cur.creationTimestamp;
    meta.generation = cur.generation;
    meta.resourceVersion = cur.resourceVersion;
    if (cur.deletionTimestamp) {
      meta.deletionTimestamp = cur.deletionTimestamp;
      meta.deletionGracePeriodSeconds = cur.deletionGracePeriodSeconds;
    } else {
      delete meta.deletionTimestamp;
      delete meta.deletionGracePeriodSeconds;
    }
    if (meta.generateName === undefined && cur.generateName !== undefined) meta.generateName = cur.generateName;
    if (this.def.subresources.status) {
      if (current['status'] !== undefined) next['status'] = deepClone(current['status']);
      else delete next['status'];
    }
    this.admitSchema(next, opts);
    this.strategyHook(next, cur.name ?? '', () => this.strategy.prepareForUpdate?.(next, current));
    if (!jsonEqual(specOf(next, !!this.def.subresources.status), specOf(current, !!this.def.subresources.status))) {
      meta.generation = (cur.generation ?? 0) + 1;
    }
    if (!opts.applied) this.trackManagedFields(current, next, opts);
    const extra: FieldError[] = [
      ...(this.strategyHook(next, cur.name ?? '', () => this.strategy.validate?.(next)) ?? []),
      ...(this.strategyHook(next, cur.name ?? '', () => this.strategy.validateUpdate?.(next, current)) ?? []),
    ];
    if (cur.deletionTimestamp) {
      const before = new Set(cur.finalizers ?? []);
      for (const f of Array.isArray(meta.finalizers) ? meta.finalizers : []) {
        if (!before.has(f)) {
          extra.push({
            type: 'FieldValueForbidden',
            field: 'metadata.finalizers',
            detail: `no new finalizers can be added if the object is being deleted, found new finalizers []string{"${displayValue(f)}"}`,
          });
        }
      }
    }
    this.validateOrThrow(next, cur.name ?? '', extra);
    return next;
  }

  /** Whether finalizers (metadata's, or the kind's own) still hold the object. */
  private isHeld(obj: KubeObject): boolean {
    return (obj.metadata.finalizers ?? []).length > 0 || (this.strategy.pendingFinalizers?.(obj) ?? []).length > 0;
  }

  private prepareFinalize(desired: KubeObject, current: KubeObject): KubeObject {
    if (!this.strategy.prepareForFinalize) throw notFound(this.target(current.metadata.name));
    const next = this.strategy.prepareForFinalize(deepClone(desired), current);
    this.validateOrThrow(next, current.metadata.name ?? '', []);
    return next;
  }

  /** Status updates change only `status` (the CRD status strategy). */
  private prepareStatusUpdate(desired: KubeObject, current: KubeObject, opts: WriteOptions): KubeObject {
    const next = deepClone(current);
    if (desired['status'] === undefined) delete next['status'];
    else next['status'] = deepClone(desired['status']);
    const { apiVersion, kind, metadata, ...rest } = next;
    prune(rest, this.def.schema);
    applyDefaults(rest, this.def.schema);
    const merged = { apiVersion, kind, metadata, ...rest } as KubeObject;
    if (opts.applied) merged.metadata.managedFields = desired.metadata.managedFields;
    else this.trackManagedFields(current, merged, { ...opts, fieldsSubresource: undefined }, 'status');
    this.validateOrThrow(merged, current.metadata.name ?? '', []);
    return merged;
  }

  async updateStatus(namespace: string, name: string, body: unknown, opts: WriteOptions = {}): Promise<KubeObject> {
    const obj = this.decodeBody(body, namespace);
    if (obj.metadata.name && obj.metadata.name !== name) {
      throw badRequest(
        `the name of the object (${displayValue(obj.metadata.name)}) does not match the name on the URL (${name})`,
      );
    }
    if (!obj.metadata.resourceVersion) {
      throw invalid(this.def.kind, this.def.group, name, [
        {
          type: 'FieldValueInvalid',
          field: 'metadata.resourceVersion',
          value: '0x0',
          detail: 'must be specified for an update',
        },
      ]);
    }
    return this.guaranteedUpdate(namespace, name, () => obj, { ...opts, subresource: 'status' });
  }

  /** PUT of the finalize subresource: unconditional unless the body pins a resourceVersion. */
  async finalize(namespace: string, name: string, body: unknown, opts: WriteOptions = {}): Promise<KubeObject> {
    const obj = this.decodeBody(body, namespace);
    if (obj.metadata.name && obj.metadata.name !== name) {
      throw badRequest(
        `the name of the object (${displayValue(obj.metadata.name)}) does not match the name on the URL (${name})`,
      );
    }
    return this.guaranteedUpdate(namespace, name, () => obj, { ...opts, subresource: 'finalize' });
  }

  // ---- scale ---------------------------------------------------------------------------

  toScale(obj: KubeObject): KubeObject {
    const scale = this.def.subresources.scale!;
    const replicas = readJSONPath(obj, scale.specReplicasPath);
    const statusReplicas = readJSONPath(obj, scale.statusReplicasPath);
    const selector = scale.labelSelectorPath ? readJSONPath(obj, scale.labelSelectorPath) : undefined;
    return {
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      metadata: {
        name: obj.metadata.name,
        ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}),
        uid: obj.metadata.uid,
        resourceVersion: obj.metadata.resourceVersion,
        creationTimestamp: obj.metadata.creationTimestamp,
      },
      spec: { replicas: typeof replicas === 'number' ? replicas : 0 },
      status: {
        replicas: typeof statusReplicas === 'number' ? statusReplicas : 0,
        ...(typeof selector === 'string' && selector ? { selector } : {}),
      },
    };
  }

  /** Applies a desired Scale (already validated) to the object. */
  async updateScale(
    namespace: string,
    name: string,
    scaleFor: (currentScale: KubeObject) => KubeObject | Promise<KubeObject>,
    opts: WriteOptions = {},
  ): Promise<KubeObject> {
    const path = this.def.subresources.scale!.specReplicasPath;
    const updated = await this.guaranteedUpdate(
      namespace,
      name,
      async (current) => {
        const desired = await scaleFor(this.toScale(current));
        const spec = desired['spec'];
        const replicas = isPlainObject(spec) ? spec['replicas'] : undefined;
        if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
          throw invalid('Scale', 'autoscaling', name, [
            {
              type: 'FieldValueInvalid',
              field: 'spec.replicas',
              value: replicas ?? null,
              detail: 'must be greater than or equal to 0',
            },
          ]);
        }
        writeJSONPath(current, path, replicas);
        current.metadata.resourceVersion = desired.metadata?.resourceVersion || current.metadata.resourceVersion;
        return current;
      },
      { ...opts, fieldsSubresource: 'scale' },
    );
    return this.toScale(updated);
  }

  // ---- delete --------------------------------------------------------------------------

  async delete(namespace: string, name: string, opts: DeleteOptions = {}): Promise<DeleteResult> {
    const key = this.key(namespace, name);
    await this.admitLifecycle('DELETE', this.def.namespaced ? namespace : '', name);
    for (;;) {
      const kv = await this.store.get(key);
      if (!kv) throw notFound(this.target(name));
      const current = this.decode(kv);
      const pre = opts.preconditions;
      if (pre?.uid && pre.uid !== current.metadata.uid) {
        throw conflict(
          this.target(name),
          `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${current.metadata.uid}`,
        );
      }
      if (pre?.resourceVersion && pre.resourceVersion !== current.metadata.resourceVersion) {
        throw conflict(
          this.target(name),
          `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${current.metadata.resourceVersion}`,
        );
      }
      if (this.admission) {
        await this.admission.admit(this.admissionAttributes('DELETE', null, current, opts));
        await this.validateAdmission('DELETE', null, current, opts);
      }
      const finalizers = withPropagationFinalizer(current.metadata.finalizers ?? [], opts.propagationPolicy);
      const pending = this.strategy.pendingFinalizers?.(current) ?? [];
      if (current.metadata.deletionTimestamp && pending.length > 0 && this.strategy.deletionPendingMessage)
        throw conflict(this.target(name), this.strategy.deletionPendingMessage);
      if (finalizers.length === 0 && pending.length === 0) {
        if (opts.dryRun) return { object: current, deleted: true };
        try {
          return await this.deleteNow(key, kv, false, name);
        } catch (err) {
          if (err instanceof StaleDelete) continue;
          throw err;
        }
      }
      // Finalizers hold the object: mark it as being deleted (once) and keep it.
      const unchanged = jsonEqual(finalizers, current.metadata.finalizers ?? []);
      if (current.metadata.deletionTimestamp && unchanged) return { object: current, deleted: false };
      const next = deepClone(current);
      if (finalizers.length > 0) next.metadata.finalizers = finalizers;
      else delete next.metadata.finalizers;
      if (!current.metadata.deletionTimestamp) {
        next.metadata.deletionTimestamp = formatTime();
        next.metadata.deletionGracePeriodSeconds = 0;
        next.metadata.generation = (current.metadata.generation ?? 0) + 1;
        this.strategy.prepareForDeletion?.(next);
      }
      if (opts.dryRun) return { object: next, deleted: false };
      try {
        return {
          object: this.decode(await this.store.update(key, this.encode(next), { modRevision: kv.modRevision })),
          deleted: false,
        };
      } catch (err) {
        if (err instanceof PreconditionFailedError) continue;
        if (err instanceof KeyNotFoundError) throw notFound(this.target(name));
        throw err;
      }
    }
  }

  private async deleteNow(key: string, kv: KeyValue, pinned: boolean, name: string): Promise<DeleteResult> {
    try {
      const last = await this.store.delete(key, { modRevision: kv.modRevision });
      return { object: this.decode(last), deleted: true };
    } catch (err) {
      if (err instanceof PreconditionFailedError) {
        if (pinned) throw conflict(this.target(name), OBJECT_MODIFIED);
        throw new StaleDelete();
      }
      if (err instanceof KeyNotFoundError) throw notFound(this.target(name));
      throw err;
    }
  }

  async deleteCollection(
    namespace: string | undefined,
    listOpts: ListOptions,
    opts: DeleteOptions = {},
  ): Promise<ListResult> {
    const { items, resourceVersion } = await this.list(namespace, {
      labelSelector: listOpts.labelSelector,
      fieldSelector: listOpts.fieldSelector,
    });
    const affected: KubeObject[] = [];
    for (const item of items) {
      try {
        const r = await this.delete(item.metadata.namespace ?? '', item.metadata.name!, opts);
        affected.push(r.object);
      } catch (err) {
        if (isNotFound(err)) continue;
        throw err;
      }
    }
    return { items: affected, resourceVersion };
  }

  // ---- watch ---------------------------------------------------------------------------

  /**
   * Watches objects, starting with synthetic ADDED events for the current state when no
   * resourceVersion (or "0") is given, else with the changes after that revision. Selector
   * transitions arrive as ADDED/DELETED, as from kube's watch cache. Served by the watch cache
   * (one storage watch for all watchers); the objects handed to the sink are shared by every
   * watcher and must not be modified.
   */
  async watch(namespace: string | undefined, opts: WatchOptions, sink: WatchSink): Promise<RegistryWatch> {
    if (!this.cache) return this.watchStorage(namespace, opts, sink);
    const filter = {
      keyPrefix: this.prefix(namespace),
      labels: parseLabelSelector(opts.labelSelector),
      fields: parseFieldSelector(opts.fieldSelector, this.fieldSelectors),
    };
    const rv = opts.resourceVersion;
    const start = !rv
      ? { from: 'consistent' as const }
      : rv === '0'
        ? { from: 'any' as const }
        : { from: 'revision' as const, revision: parseResourceVersion(rv) };
    return this.cache.watch(filter, start, sink, () =>
      this.list(namespace, { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector }),
    );
  }

  /** A watch with its own storage watch (the watch cache disabled). */
  private async watchStorage(
    namespace: string | undefined,
    opts: WatchOptions,
    sink: WatchSink,
  ): Promise<RegistryWatch> {
    const labels = parseLabelSelector(opts.labelSelector);
    const fields = parseFieldSelector(opts.fieldSelector, this.fieldSelectors);
    const prefix = this.prefix(namespace);
    let after: number;
    let progress = 0;
    const rv = opts.resourceVersion;
    if (!rv || rv === '0') {
      const snapshot = await this.list(namespace, {
        labelSelector: opts.labelSelector,
        fieldSelector: opts.fieldSelector,
      });
      after = Number(snapshot.resourceVersion);
      for (const obj of snapshot.items) sink.event('ADDED', obj);
    } else {
      after = parseResourceVersion(rv);
    }
    progress = after;
    const matches = (value: string | undefined, revision: number): KubeObject | undefined => {
      if (value === undefined) return undefined;
      const obj = this.decode({ value, modRevision: revision });
      return this.matches(obj, labels, fields) ? obj : undefined;
    };
    const handle = this.store.watch(prefix, after, {
      onEvent: (ev: WatchEvent) => {
        progress = ev.revision;
        const cur = ev.type === 'PUT' ? matches(ev.value, ev.revision) : undefined;
        const prev = matches(ev.type === 'DELETE' ? ev.value : ev.prevValue, ev.revision);
        if (ev.type === 'DELETE') {
          if (prev) sink.event('DELETED', prev);
        } else if (cur && prev) sink.event('MODIFIED', cur);
        else if (cur) sink.event('ADDED', cur);
        else if (prev) sink.event('DELETED', prev);
      },
      onError: (err) => {
        if (err instanceof CompactedError)
          sink.error(expired(`too old resource version: ${err.requested} (${err.compacted + 1})`));
        else sink.error(err);
      },
    });
    return { stop: () => handle.stop(), progressRevision: () => progress };
  }
}

class StaleDelete extends Error {}

function truncate(s: string): string {
  return s.length > 200 ? `${s.slice(0, 200)}...` : s;
}

function stripRV(obj: KubeObject): KubeObject {
  const { resourceVersion: _rv, ...meta } = obj.metadata;
  return { ...obj, metadata: meta };
}

function isBeingDeleted(obj: KubeObject): boolean {
  return !!obj.metadata.deletionTimestamp;
}

/** Everything outside metadata (and status, when it is a subresource): changes bump generation. */
function specOf(obj: KubeObject, statusIsSubresource: boolean): Record<string, unknown> {
  const { metadata: _m, apiVersion: _a, kind: _k, ...rest } = obj;
  if (statusIsSubresource) delete rest['status'];
  return rest;
}

/** The ListOptions combinations kube-apiserver refuses (meta/internalversion/validation). */
function validateListVersioning(rv: string, match: string, continueToken: string): void {
  const errors: FieldError[] = [];
  if (match !== '') {
    if (rv === '')
      errors.push({
        type: 'FieldValueForbidden',
        field: 'resourceVersionMatch',
        detail: 'resourceVersionMatch is forbidden unless resourceVersion is provided',
      });
    if (continueToken !== '')
      errors.push({
        type: 'FieldValueForbidden',
        field: 'resourceVersionMatch',
        detail: 'resourceVersionMatch is forbidden when continue is provided',
      });
    if (match !== 'Exact' && match !== 'NotOlderThan') {
      errors.push({
        type: 'FieldValueNotSupported',
        field: 'resourceVersionMatch',
        value: match,
        detail: 'supported values: "Exact", "NotOlderThan", ""',
      });
    } else if (match === 'Exact' && rv === '0') {
      errors.push({
        type: 'FieldValueForbidden',
        field: 'resourceVersionMatch',
        detail: 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"',
      });
    }
  }
  if (errors.length > 0) throw invalid('ListOptions', 'meta.k8s.io', '', errors);
  if (continueToken !== '' && rv !== '' && rv !== '0')
    throw badRequest('specifying resource version is not allowed when using continue');
}

export function parseResourceVersion(rv: string): number {
  if (!/^\d+$/.test(rv)) {
    throw invalid('ListOptions', 'meta.k8s.io', '', [
      {
        type: 'FieldValueInvalid',
        field: 'resourceVersion',
        value: rv,
        detail: 'resourceVersion must be a non-negative integer',
      },
    ]);
  }
  return Number(rv);
}

function generateName(base: string): string {
  const prefix = base.length > 58 ? base.slice(0, 58) : base;
  let suffix = '';
  for (let i = 0; i < 5; i++) suffix += generateNameAlphabet[randomInt(generateNameAlphabet.length)];
  return prefix + suffix;
}

interface ContinueToken {
  v: string;
  rv: number;
  start: string;
}

function encodeContinue(rv: number, startAfter: string): string {
  const token: ContinueToken = { v: 'meta.k8s.io/v1', rv, start: startAfter };
  return Buffer.from(JSON.stringify(token)).toString('base64url');
}

function decodeContinue(raw: string): ContinueToken {
  try {
    const token = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as ContinueToken;
    if (token.v !== 'meta.k8s.io/v1' || typeof token.rv !== 'number' || typeof token.start !== 'string')
      throw new Error('bad');
    return token;
  } catch {
    throw badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
  }
}
