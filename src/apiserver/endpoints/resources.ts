// The REST verbs for every served resource: get, list, watch, create, update, patch, delete,
// deletecollection, and the status and scale subresources. Generic over the APIRegistry.

import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  badRequest,
  type FieldError,
  invalid,
  isNotFound,
  methodNotAllowed,
  pathNotFound,
  StatusError,
  unsupportedMediaType,
} from '../../machinery/errors.js';
import { applyPatch, decodeApplyBody, validatePatchOptions } from '../apply/apply.js';
import { managerFromUserAgent } from '../apply/managed-fields.js';
import { applyDefaults } from '../schema/structural.js';
import { applyJSONPatch, JSONPatchError, parseJSONPatch } from '../patch/json-patch.js';
import { applyMergePatch } from '../patch/merge-patch.js';
import { applyStrategicMergePatch, StrategicPatchError } from '../patch/strategic-merge-patch.js';
import { builtinPatchMeta, type PatchMeta } from '../../machinery/protobuf/patch-meta.js';
import type { APIRegistry, ServedResource } from '../registry/registry.js';
import { displayValue, isPlainObject, type KubeObject } from '../../machinery/object.js';
import { parseResourceVersion, type DeleteOptions, type WriteOptions } from '../registry/store.js';
import type { ListResult } from '../storage/interface.js';
import { parseFieldSelector } from '../../machinery/fields.js';
import { parseLabelSelector } from '../../machinery/labels.js';
import { partialObjectMetadata, type IncludeObject } from '../registry/table.js';
import { servedJSONOf } from '../storage/encoding.js';
import { protobufMessageOf } from '../../machinery/protobuf/kube.js';
import {
  checkDepth,
  decodeObjectBody,
  EncodedJSON,
  protobufResponse,
  readBody,
  warningHeaders,
  writeJSON,
  writeProtobuf,
} from './http.js';
import { contentTypeOf, negotiateRepresentation, type Representation } from './negotiation.js';
import type { RequestInfo } from './requestinfo.js';
import { serveWatch, type WatchSettings } from './watch.js';

const applyPatchType = 'application/apply-patch+yaml';
const strategicPatchType = 'application/strategic-merge-patch+json';
const patchTypes = ['application/json-patch+json', 'application/merge-patch+json', applyPatchType];
/** Built-in kinds also take strategic merge patches; upm.io kinds answer 415, as CRDs do. */
const builtinPatchTypes = [
  'application/json-patch+json',
  'application/merge-patch+json',
  strategicPatchType,
  applyPatchType,
];

export interface ResourceHandlerOptions {
  watch: WatchSettings;
  /** Called when a watch opens and closes (metrics). */
  onWatchCount?: (group: string, resource: string, delta: number) => void;
}

export class ResourceHandler {
  constructor(
    private readonly registry: APIRegistry,
    private readonly opts: ResourceHandlerOptions,
  ) {}

  async handle(req: IncomingMessage, res: ServerResponse, info: RequestInfo, query: URLSearchParams): Promise<number> {
    const served = this.registry.lookup(info.apiGroup, info.apiVersion, info.resource);
    if (!served) throw pathNotFound();
    const { def } = served;
    if (!def.namespaced && info.namespace) throw pathNotFound();
    if (def.namespaced && info.name && !info.namespace) throw pathNotFound();
    if (
      info.subresource &&
      !(info.subresource === 'status' && def.subresources.status) &&
      !(info.subresource === 'scale' && def.subresources.scale) &&
      !(info.subresource === 'finalize' && def.subresources.finalize)
    ) {
      throw pathNotFound();
    }
    if (info.parts.length > (def.namespaced && info.namespace ? 5 : 3)) throw pathNotFound();
    const verbs = def.verbs ?? ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
    const subresourceVerbs = info.subresource === 'finalize' ? ['update'] : ['get', 'update', 'patch'];
    if (!verbs.includes(info.verb as never) || (info.subresource && !subresourceVerbs.includes(info.verb))) {
      throw methodNotAllowed(info.verb, served.store.target(info.name));
    }
    const namespace = info.namespace;

    switch (info.verb) {
      case 'get':
        return this.get(req, res, served, info, query);
      case 'list':
        return this.list(req, res, served, namespace, query);
      case 'watch':
        return this.watch(req, res, served, namespace, query);
      case 'create':
        if (info.name) throw methodNotAllowed('create', served.store.target(info.name));
        return this.create(req, res, served, namespace, query);
      case 'update':
        return this.update(req, res, served, info, query);
      case 'patch':
        return this.patch(req, res, served, info, query);
      case 'delete':
        return this.delete(req, res, served, info, query);
      case 'deletecollection':
        return this.deleteCollection(req, res, served, namespace, query);
      default:
        throw methodNotAllowed(info.verb, served.store.target(info.name));
    }
  }

  // ---- representations ------------------------------------------------------------------

  private single(served: ServedResource, obj: KubeObject, rep: Representation, query: URLSearchParams): unknown {
    switch (rep.kind) {
      case 'object': {
        const written = servedJSONOf(obj);
        return written === undefined ? obj : new EncodedJSON(written);
      }
      case 'partialObjectMetadata':
        return partialObjectMetadata(obj, rep.version);
      case 'table':
        return served.table.table(
          [obj],
          { resourceVersion: obj.metadata.resourceVersion },
          includeObject(query),
          rep.version,
        );
      default:
        throw new StatusError(406, 'NotAcceptable', 'only the following media types are accepted: application/json');
    }
  }

  private listBody(served: ServedResource, result: ListResult, rep: Representation, query: URLSearchParams): unknown {
    const meta: Record<string, unknown> = { resourceVersion: result.resourceVersion };
    if (result.continue) meta['continue'] = result.continue;
    if (result.remainingItemCount !== undefined) meta['remainingItemCount'] = result.remainingItemCount;
    switch (rep.kind) {
      case 'table':
        return served.table.table(result.items, meta, includeObject(query), rep.version);
      case 'partialObjectMetadataList':
        return {
          kind: 'PartialObjectMetadataList',
          apiVersion: `meta.k8s.io/${rep.version}`,
          metadata: meta,
          items: result.items.map((o) => partialObjectMetadata(o, rep.version)),
        };
      default:
        if (result.encodedItems) {
          // The items' JSON is at hand (stored or cached text): write it as it is.
          const head = JSON.stringify({
            apiVersion: served.store.apiVersion,
            kind: served.def.listKind,
            metadata: meta,
          });
          return new EncodedJSON(`${head.slice(0, -1)},"items":[${result.encodedItems.join(',')}]}`);
        }
        return { apiVersion: served.store.apiVersion, kind: served.def.listKind, metadata: meta, items: result.items };
    }
  }

  // ---- verbs ----------------------------------------------------------------------------

  private async get(
    req: IncomingMessage,
    res: ServerResponse,
    served: ServedResource,
    info: RequestInfo,
    query: URLSearchParams,
  ): Promise<number> {
    const rep = negotiateRepresentation(req.headers.accept, 'single', protobufFor(served));
    const found = await served.store.getServed(info.namespace, info.name);
    let body: unknown;
    if (info.subresource === 'scale') body = served.store.toScale(found.object());
    else if (rep.kind === 'object') body = new EncodedJSON(found.json);
    else body = this.single(served, found.object(), rep, query);
    writeBody(res, rep, 200, body);
    return 200;
  }

  private async list(
    req: IncomingMessage,
    res: ServerResponse,
    served: ServedResource,
    namespace: string,
    query: URLSearchParams,
  ): Promise<number> {
    const rep = negotiateRepresentation(req.headers.accept, 'list', protobufFor(served));
    if (query.get('sendInitialEvents') !== null) {
      throw invalid('ListOptions', 'meta.k8s.io', '', [
        { type: 'FieldValueForbidden', field: 'sendInitialEvents', detail: 'sendInitialEvents is forbidden for list' },
      ]);
    }
    const result = await served.store.list(namespace || undefined, listOptions(query));
    writeBody(res, rep, 200, this.listBody(served, result, rep, query));
    return 200;
  }

  private async watch(
    req: IncomingMessage,
    res: ServerResponse,
    served: ServedResource,
    namespace: string,
    query: URLSearchParams,
  ): Promise<number> {
    const rep = negotiateRepresentation(req.headers.accept, 'watch');
    if (query.get('sendInitialEvents') !== null) {
      throw invalid('ListOptions', 'meta.k8s.io', '', [
        {
          type: 'FieldValueForbidden',
          field: 'sendInitialEvents',
          detail: 'sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled',
        },
      ]);
    }
    // Reject bad selectors and versions with a plain error before the stream starts.
    parseLabelSelector(query.get('labelSelector'));
    parseFieldSelector(query.get('fieldSelector'), served.store.fieldSelectors);
    const rv = query.get('resourceVersion');
    if (rv) parseResourceVersion(rv);
    this.opts.onWatchCount?.(served.def.group, served.def.plural, 1);
    try {
      await serveWatch(req, res, served, namespace || undefined, query, rep, this.opts.watch);
    } finally {
      this.opts.onWatchCount?.(served.def.group, served.def.plural, -1);
    }
    return 200;
  }

  private async create(
    req: IncomingMessage,
    res: ServerResponse,
    served: ServedResource,
    namespace: string,
    query: URLSearchParams,
  ): Promise<number> {
    const rep = negotiateRepresentation(req.headers.accept, 'single', protobufFor(served));
    const body = decodeObjectBody(await readBody(req), req.headers['content-type'], {
      apiVersion: served.store.apiVersion,
      kind: served.def.kind,
    });
    const opts = writeOptions(req, query);
    if (served.virtualCreate) {
      const answer = await served.virtualCreate(served.store.decodeBody(body, namespace), req.user!);
      writeBody(res, rep, 201, answer);
      return 201;
    }
    const obj = await served.store.create(namespace, body, opts);
    writeBody(res, rep, 201, this.single(served, obj, rep, query), warningHeaders(opts.warnings ?? []));
    return 201;
  }

  private async update(
    req: IncomingMessage,
    res: ServerResponse,
    served: ServedResource,
    info: RequestInfo,
    query: URLSearchParams,
  ): Promise<number> {
    const rep = negotiateRepresentation(req.headers.accept, 'single', protobufFor(served));
    const body = decodeObjectBody(
      await readBody(req),
      req.headers['content-type'],
      info.subresource === 'scale'
        ? { apiVersion: 'autoscaling/v1', kind: 'Scale' }
        : { apiVersion: served.store.apiVersion, kind: served.def.kind },
    );
    const opts = writeOptions(req, query);
    let result: unknown;
    if (info.subresource === 'scale') {
      const scale = decodeScale(body, info.name);
      result = await served.store.updateScale(info.namespace, info.name, () => scale, opts);
    } else if (info.subresource === 'status') {
      result = this.single(served, await served.store.updateStatus(info.namespace, info.name, body, opts), rep, query);
    } else if (info.subresource === 'finalize') {
      result = this.single(served, await served.store.finalize(info.namespace, info.name, body, opts), rep, query);
    } else {
      result = this.single(served, await served.store.update(info.namespace, info.name, body, opts), rep, query);
    }
    writeBody(res, rep, 200, result, warningHeaders(opts.warnings ?? []));
    return 200;
  }

  private async patch(
    req: IncomingMessage,
    res: ServerResponse,
    served: ServedResource,
    info: RequestInfo,
    query: URLSearchParams,
  ): Promise<number> {
    const rep = negotiateRepresentation(req.headers.accept, 'single', protobufFor(served));
    const type = contentTypeOf(req.headers['content-type']);
    const patchMeta = builtinPatchMeta(served.store.apiVersion, served.def.kind);
    const accepted = patchMeta ? builtinPatchTypes : patchTypes;
    if (!accepted.includes(type)) throw unsupportedMediaType(type, accepted);
    if (type === applyPatchType) return this.apply(req, res, served, info, query, rep);
    if (query.get('force') !== null) {
      throw invalid('PatchOptions', 'meta.k8s.io', '', [
        { type: 'FieldValueForbidden', field: 'force', detail: 'may not be specified for non-apply patch' },
      ]);
    }
    const raw = await readBody(req);
    let patch: unknown;
    try {
      patch = JSON.parse(raw.toString('utf8'));
    } catch (err) {
      throw badRequest(`error decoding patch: ${(err as Error).message}`);
    }
    checkDepth(patch);
    const apply = makePatcher(type, patch, patchMeta);
    const opts = writeOptions(req, query);
    const { store } = served;
    let result: unknown;
    if (info.subresource === 'scale') {
      result = await store.updateScale(
        info.namespace,
        info.name,
        (current) => decodeScale(apply(current), info.name),
        opts,
      );
    } else {
      const updated = await store.guaranteedUpdate(
        info.namespace,
        info.name,
        (current) => {
          const patched = apply(current);
          if (!isPlainObject(patched)) throw badRequest('the patched object must be a JSON object');
          const obj = store.decodeBody(patched, info.namespace);
          if (obj.metadata.name !== undefined && obj.metadata.name !== info.name) {
            throw badRequest(
              `the name of the object (${displayValue(obj.metadata.name)}) does not match the name on the URL (${info.name})`,
            );
          }
          // The resourceVersion is a precondition only when the patch itself sets it.
          if (!patchSetsResourceVersion(type, patch)) obj.metadata.resourceVersion = current.metadata.resourceVersion;
          return obj;
        },
        { ...opts, subresource: info.subresource === 'status' ? 'status' : undefined },
      );
      result = this.single(served, updated, rep, query);
    }
    writeBody(res, rep, 200, result, warningHeaders(opts.warnings ?? []));
    return 200;
  }

  /** Server-side apply: PATCH with application/apply-patch+yaml; creates the object if missing. */
  private async apply(
    req: IncomingMessage,
    res: ServerResponse,
    served: ServedResource,
    info: RequestInfo,
    query: URLSearchParams,
    rep: Representation,
  ): Promise<number> {
    if (info.subresource === 'scale')
      throw unsupportedMediaType(
        applyPatchType,
        patchTypes.filter((t) => t !== applyPatchType),
      );
    const force = query.get('force');
    const fieldManager = query.get('fieldManager') ?? undefined;
    validatePatchOptions({ patchType: 'apply', fieldManager, force: force === 'true' });
    const opts = writeOptions(req, query);
    const { object: applied, warnings } = decodeApplyBody((await readBody(req)).toString('utf8'), opts.fieldValidation);
    opts.warnings!.push(...warnings);
    const { store, def } = served;
    const subresource = info.subresource === 'status' ? ('status' as const) : undefined;
    const applyTo = (live: KubeObject | undefined): KubeObject =>
      applyPatch({
        live,
        applied,
        manager: fieldManager!,
        force: force === 'true',
        schema: def.schema,
        apiVersion: store.apiVersion,
        kind: def.kind,
        subresource,
        statusSubresource: !!def.subresources.status,
        name: info.name,
        namespace: def.namespaced ? info.namespace : undefined,
        defaulter: (o) => applyDefaults(o, def.schema),
      });
    const bodyRV =
      isPlainObject(applied) && isPlainObject(applied['metadata']) ? applied['metadata']['resourceVersion'] : undefined;
    for (let attempt = 0; ; attempt++) {
      let live: KubeObject | undefined;
      try {
        live = await store.get(info.namespace, info.name);
      } catch (err) {
        if (!isNotFound(err) || subresource) throw err;
      }
      if (!live) {
        try {
          const created = await store.create(info.namespace, applyTo(undefined), { ...opts, applied: true });
          writeBody(res, rep, 201, this.single(served, created, rep, query), warningHeaders(opts.warnings ?? []));
          return 201;
        } catch (err) {
          // Someone created it meanwhile: apply to theirs.
          if ((err as { reason?: string }).reason === 'AlreadyExists' && attempt < 3) continue;
          throw err;
        }
      }
      const updated = await store.guaranteedUpdate(
        info.namespace,
        info.name,
        (current) => {
          const next = applyTo(current);
          next.metadata.resourceVersion =
            typeof bodyRV === 'string' && bodyRV !== '' ? bodyRV : current.metadata.resourceVersion;
          return next;
        },
        { ...opts, applied: true, subresource },
      );
      writeBody(res, rep, 200, this.single(served, updated, rep, query), warningHeaders(opts.warnings ?? []));
      return 200;
    }
  }

  private async delete(
    req: IncomingMessage,
    res: ServerResponse,
    served: ServedResource,
    info: RequestInfo,
    query: URLSearchParams,
  ): Promise<number> {
    const rep = negotiateRepresentation(req.headers.accept, 'single', protobufFor(served));
    const opts = await deleteOptions(req, query);
    const { object } = await served.store.delete(info.namespace, info.name, opts);
    writeBody(res, rep, 200, this.single(served, object, rep, query));
    return 200;
  }

  private async deleteCollection(
    req: IncomingMessage,
    res: ServerResponse,
    served: ServedResource,
    namespace: string,
    query: URLSearchParams,
  ): Promise<number> {
    const rep = negotiateRepresentation(req.headers.accept, 'list', protobufFor(served));
    const opts = await deleteOptions(req, query);
    const result = await served.store.deleteCollection(namespace || undefined, listOptions(query), opts);
    writeBody(res, rep, 200, this.listBody(served, result, rep, query));
    return 200;
  }
}

/** Whether the kind has a protobuf form (built-in kinds) that responses may take. */
function protobufFor(served: ServedResource): { protobuf: boolean } {
  return { protobuf: protobufMessageOf(served.store.apiVersion, served.def.kind) !== undefined };
}

/** Writes a response in the negotiated encoding: protobuf when chosen and the body has that form, else JSON. */
function writeBody(
  res: ServerResponse,
  rep: Representation,
  code: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const payload = rep.kind === 'object' && rep.protobuf ? protobufResponse(body) : undefined;
  if (payload) writeProtobuf(res, code, payload, headers);
  else writeJSON(res, code, body, headers);
}

function includeObject(query: URLSearchParams): IncludeObject {
  const v = query.get('includeObject');
  if (v === null || v === '') return 'Metadata';
  if (v === 'None' || v === 'Metadata' || v === 'Object') return v;
  throw badRequest(`includeObject: unsupported value "${v}": supported values are "None", "Metadata", "Object"`);
}

function listOptions(query: URLSearchParams) {
  const limitRaw = query.get('limit');
  // A base-10 integer, as Go's strconv.ParseInt reads it (not " ", "0x10" or "1e3").
  let limit = limitRaw === null || limitRaw === '' ? 0 : /^\d+$/.test(limitRaw) ? Number(limitRaw) : NaN;
  // Up to int64 like kube; past 2^53 it means "no limit" anyway (storage takes only safe integers).
  if (limit > Number.MAX_SAFE_INTEGER) limit = BigInt(limitRaw!) <= 2n ** 63n - 1n ? Number.MAX_SAFE_INTEGER : NaN;
  if (!Number.isInteger(limit) || limit < 0)
    throw badRequest(`limit: Invalid value: "${limitRaw}": must be a non-negative integer`);
  return {
    labelSelector: query.get('labelSelector'),
    fieldSelector: query.get('fieldSelector'),
    limit,
    continue: query.get('continue'),
    resourceVersion: query.get('resourceVersion'),
    resourceVersionMatch: query.get('resourceVersionMatch'),
  };
}

function writeOptions(req: IncomingMessage, query: URLSearchParams): WriteOptions {
  const dryRun = query.getAll('dryRun');
  for (const d of dryRun) {
    if (d !== 'All') {
      throw invalid('CreateOptions', 'meta.k8s.io', '', [
        { type: 'FieldValueNotSupported', field: 'dryRun', value: d, detail: 'supported values: "All"' },
      ]);
    }
  }
  const fv = query.get('fieldValidation');
  if (fv !== null && fv !== '' && !['Strict', 'Warn', 'Ignore'].includes(fv)) {
    throw badRequest(`fieldValidation must be one of "Ignore", "Warn", or "Strict", got "${fv}"`);
  }
  const fieldManager = query.get('fieldManager');
  if (fieldManager !== null && (fieldManager.length > 128 || /[^\x20-\x7e]/.test(fieldManager))) {
    throw invalid('CreateOptions', 'meta.k8s.io', '', [
      {
        type: 'FieldValueInvalid',
        field: 'fieldManager',
        value: fieldManager,
        detail: 'must consist of at most 128 printable characters',
      },
    ]);
  }
  return {
    dryRun: dryRun.length > 0,
    fieldValidation: (fv || 'Warn') as WriteOptions['fieldValidation'],
    warnings: [],
    fieldManager: fieldManager || managerFromUserAgent(req.headers['user-agent']),
    ...(req.user ? { user: req.user } : {}),
  };
}

async function deleteOptions(req: IncomingMessage, query: URLSearchParams): Promise<DeleteOptions> {
  const opts: DeleteOptions = writeOptions(req, query);
  const fields: Record<string, unknown> = {};
  for (const k of ['propagationPolicy', 'orphanDependents', 'gracePeriodSeconds']) {
    const v = query.get(k);
    if (v !== null) fields[k] = k === 'propagationPolicy' ? v : k === 'orphanDependents' ? v === 'true' : Number(v);
  }
  const raw = await readBody(req);
  if (raw.length > 0 && raw.toString('utf8').trim() !== '') {
    const body = decodeObjectBody(raw, req.headers['content-type'], {
      apiVersion: 'meta.k8s.io/v1',
      kind: 'DeleteOptions',
    });
    if (!isPlainObject(body)) throw badRequest('DeleteOptions must be a JSON object');
    if (body['kind'] !== undefined && body['kind'] !== 'DeleteOptions') {
      throw badRequest(`expected DeleteOptions, got ${displayValue(body['kind'])}`);
    }
    const pre = body['preconditions'];
    if (isPlainObject(pre)) {
      opts.preconditions = {
        ...(typeof pre['uid'] === 'string' ? { uid: pre['uid'] } : {}),
        ...(typeof pre['resourceVersion'] === 'string' ? { resourceVersion: pre['resourceVersion'] } : {}),
      };
    }
    const dry = body['dryRun'];
    if (Array.isArray(dry) && dry.length > 0) {
      if (dry.some((d) => d !== 'All'))
        throw invalid('DeleteOptions', 'meta.k8s.io', '', [
          { type: 'FieldValueNotSupported', field: 'dryRun', value: dry, detail: 'supported values: "All"' },
        ]);
      opts.dryRun = true;
    }
    for (const k of ['propagationPolicy', 'orphanDependents', 'gracePeriodSeconds'])
      if (body[k] !== undefined && body[k] !== null) fields[k] = body[k];
  }
  const errors: FieldError[] = [];
  const policy = fields['propagationPolicy'];
  if (policy !== undefined) {
    if (policy !== 'Orphan' && policy !== 'Background' && policy !== 'Foreground') {
      errors.push({
        type: 'FieldValueNotSupported',
        field: 'propagationPolicy',
        value: policy,
        detail: 'supported values: "Foreground", "Background", "Orphan", "nil"',
      });
    } else opts.propagationPolicy = policy;
  }
  if (fields['orphanDependents'] !== undefined) {
    if (policy !== undefined)
      errors.push({
        type: 'FieldValueInvalid',
        field: 'propagationPolicy',
        value: policy,
        detail: 'orphanDependents and deletionPropagation cannot be both set',
      });
    else opts.propagationPolicy = fields['orphanDependents'] === true ? 'Orphan' : 'Background';
  }
  const grace = fields['gracePeriodSeconds'];
  if (grace !== undefined && (typeof grace !== 'number' || !Number.isInteger(grace) || grace < 0)) {
    errors.push({
      type: 'FieldValueInvalid',
      field: 'gracePeriodSeconds',
      value: grace,
      detail: 'must be a non-negative integer',
    });
  }
  if (errors.length > 0) throw invalid('DeleteOptions', 'meta.k8s.io', '', errors);
  return opts;
}

function makePatcher(type: string, patch: unknown, meta: PatchMeta | undefined): (current: unknown) => unknown {
  if (type === 'application/merge-patch+json') {
    if (!isPlainObject(patch)) throw badRequest('a merge patch must be a JSON object');
    return (current) => applyMergePatch(current, patch);
  }
  if (type === strategicPatchType) {
    if (!isPlainObject(patch)) throw badRequest('a strategic merge patch must be a JSON object');
    return (current) => {
      try {
        return applyStrategicMergePatch(current, patch, meta);
      } catch (err) {
        if (err instanceof StrategicPatchError) throw new StatusError(422, 'Invalid', err.message, {});
        throw err;
      }
    };
  }
  let ops: ReturnType<typeof parseJSONPatch>;
  try {
    ops = parseJSONPatch(patch);
  } catch (err) {
    throw badRequest(`the server rejected our request due to an error in our request: ${(err as Error).message}`);
  }
  return (current) => {
    try {
      return applyJSONPatch(current, ops);
    } catch (err) {
      if (err instanceof JSONPatchError) {
        // kube-apiserver answers a patch that cannot be applied with a 422 that names no object.
        throw new StatusError(
          422,
          'Invalid',
          `the server rejected our request due to an error in our request: ${err.message}`,
          {
            causes: [{ reason: 'FieldValueInvalid', message: err.message, field: 'patch' }],
          },
        );
      }
      throw err;
    }
  };
}

function patchSetsResourceVersion(type: string, patch: unknown): boolean {
  if (type === 'application/merge-patch+json' || type === strategicPatchType) {
    return (
      isPlainObject(patch) &&
      isPlainObject(patch['metadata']) &&
      typeof patch['metadata']['resourceVersion'] === 'string'
    );
  }
  return (
    Array.isArray(patch) &&
    patch.some((op) => isPlainObject(op) && op['path'] === '/metadata/resourceVersion' && op['op'] !== 'test')
  );
}

function decodeScale(body: unknown, name: string): KubeObject {
  if (!isPlainObject(body)) throw badRequest('Scale must be a JSON object');
  if (body['kind'] !== undefined && body['kind'] !== 'Scale')
    throw badRequest(`expected Scale, got ${displayValue(body['kind'])}`);
  const meta = isPlainObject(body['metadata']) ? body['metadata'] : {};
  if (meta['name'] !== undefined && meta['name'] !== name) {
    throw badRequest(
      `the name of the object (${displayValue(meta['name'])}) does not match the name on the URL (${name})`,
    );
  }
  return { ...body, apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: meta } as KubeObject;
}
