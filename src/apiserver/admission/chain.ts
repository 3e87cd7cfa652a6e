// The MutatingAdmissionWebhook and ValidatingAdmissionWebhook plugins of kube-apiserver
// (k8s.io/apiserver pkg/admission/plugin/webhook/{mutating,validating}/dispatcher.go and
// pkg/admission/reinvocation.go), for the resources this server serves.
//
// Where the registry calls them (kube's order, k8s.io/apiserver endpoints/handlers and
// registry/generic/registry/store.go):
//   CREATE  decode (+schema defaulting) → admit() → name generation, prepareForCreate, defaulting,
//           validation (422) → validate() → storage.
//   UPDATE  inside the optimistic-concurrency loop, with the current object as oldObject:
//           admit() → prepareUpdate (defaulting, validation) → validate() → storage. A retry
//           after a conflict runs both again.
//   DELETE  after reading the object and checking preconditions: admit() (object null: a
//           webhook may not patch) then validate(), both with oldObject = the stored object.
// All mutating webhooks run before any validating webhook.
//
// Errors are StatusErrors with kube's codes and texts:
//   denial             → the webhook's status, code < 400 forced to 400, message
//                        `admission webhook "<name>" denied the request: <message>`
//   call failure, Fail → 500 `Internal error occurred: failed calling webhook "<name>": <reason>`
//   call failure, Ignore → skipped; annotation `failed-open.…/round_<r>_index_<i>` and an event
//   dryRun + sideEffects Some/Unknown → 400 `admission webhook "<name>" does not support dry run`
//   bad patch (apply fails, patch on DELETE, object no longer an object of the kind) → 500

import { randomUUID } from 'node:crypto';
import {
  StatusError,
  badRequest,
  internalError,
  isStatusError,
  type Status,
  type StatusDetails,
  type StatusReason,
} from '../../machinery/errors.js';
import { JSONPatchError, applyJSONPatch, parseJSONPatch } from '../patch/json-patch.js';
import { deepClone, isPlainObject, jsonEqual, type KubeObject } from '../../machinery/object.js';
import { WebhookCallError, WebhookClient, type ServiceResolver } from './client.js';
import {
  isExemptAdmissionConfigurationResource,
  shouldCallWebhook,
  type MatchConditionsPolicy,
  type NamespaceLabelsFn,
} from './matching.js';
import {
  defaultMutatingWebhook,
  defaultValidatingWebhook,
  reviewUserInfo,
  type AdmissionAttributes,
  type AdmissionRequest,
  type AdmissionResponse,
  type MutatingWebhook,
  type MutatingWebhookConfiguration,
  type ValidatingWebhook,
  type ValidatingWebhookConfiguration,
} from './types.js';

type MaybePromise<T> = T | Promise<T>;

/** Where the chain reads webhook configurations: the server's storage, an informer, a file. */
export interface WebhookConfigurationSource {
  mutating(): MaybePromise<MutatingWebhookConfiguration[]>;
  validating(): MaybePromise<ValidatingWebhookConfiguration[]>;
}

/** Labels of a namespace; undefined when it does not exist (namespaceSelector then answers 404). */
export interface NamespaceLabelSource {
  namespaceLabels(name: string): MaybePromise<Record<string, string> | undefined>;
}

export type AdmissionPhase = 'mutating' | 'validating';

export type AdmissionEvent =
  | {
      type: 'called';
      phase: AdmissionPhase;
      configuration: string;
      webhook: string;
      round: number;
      durationMs: number;
      outcome: 'allowed' | 'denied' | 'error';
      mutated?: boolean;
      error?: string;
    }
  | { type: 'failedOpen'; phase: AdmissionPhase; configuration: string; webhook: string; round: number; error: string }
  | {
      type: 'matchConditionsNotEvaluated';
      phase: AdmissionPhase;
      configuration: string;
      webhook: string;
      conditions: number;
    };

export interface AdmissionChainOptions {
  source: WebhookConfigurationSource;
  /** Defaults to `source` when it also implements namespaceLabels. */
  namespaces?: NamespaceLabelSource;
  /** Defaults to a WebhookClient using resolveService. */
  client?: WebhookClient;
  resolveService?: ServiceResolver;
  /** See matching.ts: 'evaluate' (default) evaluates matchConditions with CEL. */
  matchConditionsPolicy?: MatchConditionsPolicy;
  /** Observability hook (logs, metrics). Must not throw. */
  onEvent?: (e: AdmissionEvent) => void;
}

export interface AdmitResult {
  /** The object after every patch (the input object when nothing changed); null on DELETE/CONNECT. */
  object: KubeObject | null;
  mutated: boolean;
  warnings: string[];
  auditAnnotations: Record<string, string>;
  /** Webhooks that failed and were ignored (failurePolicy Ignore). */
  failedOpen: string[];
}

export interface ValidateResult {
  warnings: string[];
  auditAnnotations: Record<string, string>;
  failedOpen: string[];
}

export const MUTATION_ANNOTATION_PREFIX = 'mutation.webhook.admission.k8s.io/';
export const MUTATION_FAILED_OPEN_PREFIX = 'failed-open.mutation.webhook.admission.k8s.io/';
export const VALIDATING_FAILED_OPEN_PREFIX = 'failed-open.validating.webhook.admission.k8s.io/';

interface Hook<W> {
  /** `<configuration>/<webhook>/<n>`: n counts earlier webhooks of the same name in the configuration. */
  uid: string;
  configuration: string;
  webhook: W;
}

function flatten<W extends ValidatingWebhook>(
  configs: { metadata: { name?: string }; webhooks?: W[] | null }[],
  withDefaults: (w: W) => W,
): Hook<W>[] {
  const sorted = [...configs].sort((a, b) => {
    const x = a.metadata?.name ?? '';
    const y = b.metadata?.name ?? '';
    return x < y ? -1 : x > y ? 1 : 0;
  });
  const hooks: Hook<W>[] = [];
  for (const c of sorted) {
    const name = c.metadata?.name ?? '';
    const seen = new Map<string, number>();
    for (const w of c.webhooks ?? []) {
      const n = seen.get(w.name) ?? 0;
      seen.set(w.name, n + 1);
      hooks.push({ uid: `${name}/${w.name}/${n}`, configuration: name, webhook: withDefaults(w) });
    }
  }
  return hooks;
}

/**
 * A webhook's denial (webhookerrors.ToStatusErr): the webhook's own Status passes through, with
 * a code below 400 forced to 400 and the message prefixed with `admission webhook "<name>" denied
 * the request`. An empty reason stays empty, as in kube.
 */
export class WebhookDeniedError extends StatusError {
  constructor(
    readonly webhookName: string,
    private readonly status: Status,
  ) {
    super(status.code, (status.reason ?? '') as StatusReason, status.message ?? '', status.details);
    this.name = 'WebhookDeniedError';
  }

  override toStatus(): Status {
    return structuredClone(this.status);
  }
}

export function webhookDenied(
  webhookName: string,
  result: AdmissionResponse['status'] | undefined,
): WebhookDeniedError {
  const r = result ?? {};
  const deniedBy = `admission webhook "${webhookName}" denied the request`;
  const message =
    typeof r.message === 'string' && r.message
      ? `${deniedBy}: ${r.message}`
      : typeof r.reason === 'string' && r.reason
        ? `${deniedBy}: ${r.reason}`
        : `${deniedBy} without explanation`;
  const code = typeof r.code === 'number' && Number.isInteger(r.code) && r.code >= 400 ? r.code : 400;
  const status: Status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, code };
  if (typeof r.reason === 'string' && r.reason) status.reason = r.reason;
  if (isPlainObject(r.details)) status.details = structuredClone(r.details) as StatusDetails;
  return new WebhookDeniedError(webhookName, status);
}

/** `admission webhook "<name>" does not support dry run` (400). */
export function dryRunUnsupported(webhookName: string): StatusError {
  return badRequest(`admission webhook "${webhookName}" does not support dry run`);
}

/** apierrors.NewInternalError with a plain message (no wrapped Error). */
function internal(message: string): StatusError {
  return internalError(new Error(message));
}

class Outputs {
  readonly warnings: string[] = [];
  readonly auditAnnotations: Record<string, string> = {};
  readonly failedOpen: string[] = [];

  constructor(private readonly attrs: AdmissionAttributes) {}

  warn(w: string): void {
    if (!this.warnings.includes(w)) this.warnings.push(w);
    const sink = this.attrs.warnings;
    if (sink && !sink.includes(w)) sink.push(w);
  }

  annotate(key: string, value: string): void {
    // kube refuses to overwrite an annotation with a different value; the first one stays.
    if (key in this.auditAnnotations) return;
    this.auditAnnotations[key] = value;
    if (this.attrs.auditAnnotations && !(key in this.attrs.auditAnnotations)) this.attrs.auditAnnotations[key] = value;
  }
}

function unchangedResult(attrs: AdmissionAttributes): AdmitResult {
  return { object: attrs.object ?? null, mutated: false, warnings: [], auditAnnotations: {}, failedOpen: [] };
}

export class AdmissionChain {
  private readonly source: WebhookConfigurationSource;
  private readonly namespaceLabels: NamespaceLabelsFn;
  private readonly client: WebhookClient;
  private readonly ownsClient: boolean;
  private readonly matchConditionsPolicy: MatchConditionsPolicy;
  private readonly onEvent: (e: AdmissionEvent) => void;

  constructor(opts: AdmissionChainOptions) {
    this.source = opts.source;
    const ns =
      opts.namespaces ??
      (typeof (opts.source as Partial<NamespaceLabelSource>).namespaceLabels === 'function'
        ? (opts.source as unknown as NamespaceLabelSource)
        : undefined);
    if (!ns) throw new Error('AdmissionChain needs a namespace label source (options.namespaces)');
    this.namespaceLabels = (name) => ns.namespaceLabels(name);
    this.ownsClient = !opts.client;
    this.client = opts.client ?? new WebhookClient({ resolveService: opts.resolveService });
    this.matchConditionsPolicy = opts.matchConditionsPolicy ?? 'evaluate';
    const onEvent = opts.onEvent;
    this.onEvent = (e) => {
      try {
        onEvent?.(e);
      } catch {
        // observers must not break admission
      }
    };
  }

  /** Closes the webhook client's pooled connections (when the chain created the client). */
  close(): void {
    if (this.ownsClient) this.client.close();
  }

  /**
   * Runs the matching mutating webhooks: configurations by name, webhooks in order, each seeing
   * the previous patches. If a webhook changed the object, webhooks with reinvocationPolicy
   * IfNeeded that ran before that change are called once more (a second round, in order).
   * Resolves with the mutated object; rejects with a StatusError.
   */
  async admit(attrs: AdmissionAttributes): Promise<AdmitResult> {
    if (isExemptAdmissionConfigurationResource(attrs.kind)) return unchangedResult(attrs);
    const hooks = flatten<MutatingWebhook>(await this.source.mutating(), defaultMutatingWebhook);
    if (hooks.length === 0) return unchangedResult(attrs);
    const out = new Outputs(attrs);
    let object: KubeObject | null = attrs.object ? deepClone(attrs.object) : null;
    const original = object;
    // webhookReinvokeContext
    let previouslyInvoked = new Set<string>();
    const reinvoke = new Set<string>();
    let shouldReinvoke = false;

    for (let round = 0; round < 2; round++) {
      if (round === 1 && !shouldReinvoke) break;
      for (const [i, hook] of hooks.entries()) {
        const w = hook.webhook;
        const decision = await shouldCallWebhook(
          w,
          { ...attrs, object },
          { namespaceLabels: this.namespaceLabels, matchConditionsPolicy: this.matchConditionsPolicy },
        );
        if ('error' in decision) throw decision.error;
        if (!decision.call) continue;
        // A webhook is never called for the first time in the reinvocation round.
        if (round === 1 && !reinvoke.has(hook.uid)) continue;
        if (decision.unevaluatedConditions > 0) {
          this.onEvent({
            type: 'matchConditionsNotEvaluated',
            phase: 'mutating',
            configuration: hook.configuration,
            webhook: w.name,
            conditions: decision.unevaluatedConditions,
          });
        }

        const started = Date.now();
        let changed = false;
        let err: unknown;
        try {
          const r = await this.callMutating(hook, attrs, object, out);
          changed = r.changed;
          object = r.object;
        } catch (e) {
          err = e;
        }
        out.annotate(
          `${MUTATION_ANNOTATION_PREFIX}round_${round}_index_${i}`,
          JSON.stringify({ configuration: hook.configuration, webhook: w.name, mutated: changed }),
        );
        this.onEvent({
          type: 'called',
          phase: 'mutating',
          configuration: hook.configuration,
          webhook: w.name,
          round,
          durationMs: Date.now() - started,
          outcome: err === undefined ? 'allowed' : err instanceof WebhookDeniedError ? 'denied' : 'error',
          mutated: changed,
          ...(err !== undefined ? { error: (err as Error).message } : {}),
        });
        if (changed) {
          for (const uid of previouslyInvoked) reinvoke.add(uid);
          previouslyInvoked = new Set();
          shouldReinvoke = true;
        }
        if (w.reinvocationPolicy === 'IfNeeded') previouslyInvoked.add(hook.uid);
        if (err === undefined) continue;

        if (err instanceof WebhookCallError) {
          if (w.failurePolicy === 'Ignore') {
            out.annotate(`${MUTATION_FAILED_OPEN_PREFIX}round_${round}_index_${i}`, w.name);
            out.failedOpen.push(w.name);
            this.onEvent({
              type: 'failedOpen',
              phase: 'mutating',
              configuration: hook.configuration,
              webhook: w.name,
              round,
              error: err.message,
            });
            continue;
          }
          throw internal(err.message);
        }
        throw isStatusError(err) ? err : internalError(err);
      }
    }
    return {
      object,
      mutated: !jsonEqual(object, original),
      warnings: out.warnings,
      auditAnnotations: out.auditAnnotations,
      failedOpen: out.failedOpen,
    };
  }

  /**
   * Calls every matching validating webhook in parallel and waits for all. Rejects with the
   * first error in webhook order (kube returns the first to arrive) when any webhook denies or
   * a Fail webhook cannot be called.
   */
  async validate(attrs: AdmissionAttributes): Promise<ValidateResult> {
    const out = new Outputs(attrs);
    const result = (): ValidateResult => ({
      warnings: out.warnings,
      auditAnnotations: out.auditAnnotations,
      failedOpen: out.failedOpen,
    });
    if (isExemptAdmissionConfigurationResource(attrs.kind)) return result();
    const hooks = flatten<ValidatingWebhook>(await this.source.validating(), defaultValidatingWebhook);
    const relevant: Hook<ValidatingWebhook>[] = [];
    for (const hook of hooks) {
      const decision = await shouldCallWebhook(hook.webhook, attrs, {
        namespaceLabels: this.namespaceLabels,
        matchConditionsPolicy: this.matchConditionsPolicy,
      });
      if ('error' in decision) throw decision.error;
      if (!decision.call) continue;
      if (decision.unevaluatedConditions > 0) {
        this.onEvent({
          type: 'matchConditionsNotEvaluated',
          phase: 'validating',
          configuration: hook.configuration,
          webhook: hook.webhook.name,
          conditions: decision.unevaluatedConditions,
        });
      }
      relevant.push(hook);
    }
    if (relevant.length === 0) return result();

    const errors = await Promise.all(
      relevant.map(async (hook, idx): Promise<StatusError | undefined> => {
        const w = hook.webhook;
        const started = Date.now();
        let err: unknown;
        try {
          await this.callValidating(hook, attrs, out);
        } catch (e) {
          err = e;
        }
        this.onEvent({
          type: 'called',
          phase: 'validating',
          configuration: hook.configuration,
          webhook: w.name,
          round: 0,
          durationMs: Date.now() - started,
          outcome: err === undefined ? 'allowed' : err instanceof WebhookDeniedError ? 'denied' : 'error',
          ...(err !== undefined ? { error: (err as Error).message } : {}),
        });
        if (err === undefined) return undefined;
        if (err instanceof WebhookCallError) {
          if (w.failurePolicy === 'Ignore') {
            out.annotate(`${VALIDATING_FAILED_OPEN_PREFIX}round_0_index_${idx}`, w.name);
            out.failedOpen.push(w.name);
            this.onEvent({
              type: 'failedOpen',
              phase: 'validating',
              configuration: hook.configuration,
              webhook: w.name,
              round: 0,
              error: err.message,
            });
            return undefined;
          }
          return internal(err.message);
        }
        return isStatusError(err) ? err : internalError(err);
      }),
    );
    const first = errors.find((e) => e !== undefined);
    if (first) throw first;
    return result();
  }

  private buildRequest(attrs: AdmissionAttributes, object: KubeObject | null): AdmissionRequest {
    const req: AdmissionRequest = {
      uid: randomUUID(),
      kind: { ...attrs.kind },
      resource: { ...attrs.resource },
      requestKind: { ...(attrs.requestKind ?? attrs.kind) },
      requestResource: { ...(attrs.requestResource ?? attrs.resource) },
      operation: attrs.operation,
      userInfo: reviewUserInfo(attrs.userInfo),
      object,
      oldObject: attrs.oldObject ?? null,
      dryRun: attrs.dryRun === true,
      options: attrs.options ?? null,
    };
    if (attrs.subResource) req.subResource = attrs.subResource;
    const requestSub = attrs.requestSubResource ?? attrs.subResource;
    if (requestSub) req.requestSubResource = requestSub;
    if (attrs.name) req.name = attrs.name;
    if (attrs.namespace) req.namespace = attrs.namespace;
    return req;
  }

  /** Dry-run gate shared by both phases (callAttrMutatingHook / callHook). */
  private checkDryRun(w: ValidatingWebhook, attrs: AdmissionAttributes): void {
    if (!attrs.dryRun) return;
    if (!w.sideEffects) throw new WebhookCallError(w.name, 'Webhook SideEffects is nil');
    if (w.sideEffects !== 'None' && w.sideEffects !== 'NoneOnDryRun') throw dryRunUnsupported(w.name);
  }

  private record(
    w: ValidatingWebhook,
    out: Outputs,
    result: { auditAnnotations: Record<string, string>; warnings: string[] },
  ): void {
    for (const [k, v] of Object.entries(result.auditAnnotations)) out.annotate(`${w.name}/${k}`, v);
    for (const warning of result.warnings) out.warn(warning);
  }

  private async callMutating(
    hook: Hook<MutatingWebhook>,
    attrs: AdmissionAttributes,
    object: KubeObject | null,
    out: Outputs,
  ): Promise<{ changed: boolean; object: KubeObject | null }> {
    const w = hook.webhook;
    this.checkDryRun(w, attrs);
    const result = await this.client.review(w, this.buildRequest(attrs, object), true);
    this.record(w, out, result);
    if (!result.allowed) throw webhookDenied(w.name, result.status);
    if (!result.patch || result.patch.length === 0) return { changed: false, object };

    let ops;
    try {
      ops = parseJSONPatch(JSON.parse(result.patch.toString('utf8')));
    } catch (err) {
      throw new WebhookCallError(w.name, `received undecodable patch in webhook response: ${(err as Error).message}`);
    }
    if (ops.length === 0) return { changed: false, object };
    if (object === null)
      throw internal(
        `admission webhook "${w.name}" attempted to modify the object, which is not supported for this operation`,
      );
    if (result.patchType !== 'JSONPatch')
      throw new WebhookCallError(w.name, `unsupported patch type "${result.patchType ?? ''}"`);

    let patched: unknown;
    try {
      patched = applyJSONPatch(object, ops);
    } catch (err) {
      throw err instanceof JSONPatchError ? internal(err.message) : internalError(err);
    }
    const next = checkPatchedObject(w.name, object, patched);
    const changed = !jsonEqual(object, next);
    const defaulted = attrs.defaulter ? (attrs.defaulter(next) ?? next) : next;
    return { changed, object: defaulted };
  }

  private async callValidating(hook: Hook<ValidatingWebhook>, attrs: AdmissionAttributes, out: Outputs): Promise<void> {
    const w = hook.webhook;
    this.checkDryRun(w, attrs);
    const result = await this.client.review(w, this.buildRequest(attrs, attrs.object ?? null), false);
    this.record(w, out, result);
    if (!result.allowed) throw webhookDenied(w.name, result.status);
  }
}

/**
 * The patched document must still decode as an object of the same kind (kube decodes it into
 * the versioned type and converts it back): a JSON object with the same apiVersion and kind
 * and an object `metadata`.
 */
function checkPatchedObject(webhookName: string, before: KubeObject, patched: unknown): KubeObject {
  if (!isPlainObject(patched)) {
    const t = Array.isArray(patched) ? 'array' : patched === null ? 'null' : typeof patched;
    throw internal(`json: cannot unmarshal ${t} into Go value of type map[string]interface {}`);
  }
  const text = () => {
    const s = JSON.stringify(patched);
    return s.length > 500 ? `${s.slice(0, 500)} ...` : s;
  };
  if (typeof patched['kind'] !== 'string' || patched['kind'] === '')
    throw internal(`Object 'Kind' is missing in '${text()}'`);
  if (typeof patched['apiVersion'] !== 'string' || patched['apiVersion'] === '')
    throw internal(`Object 'apiVersion' is missing in '${text()}'`);
  if (patched['kind'] !== before.kind || patched['apiVersion'] !== before.apiVersion) {
    throw internal(
      `admission webhook "${webhookName}" changed the object from ${before.apiVersion}, Kind=${before.kind} to ${patched['apiVersion']}, Kind=${patched['kind']}`,
    );
  }
  if (patched['metadata'] !== undefined && !isPlainObject(patched['metadata'])) {
    throw internal(
      `.metadata accessor error: ${JSON.stringify(patched['metadata'])} is of the type ${Array.isArray(patched['metadata']) ? '[]interface {}' : typeof patched['metadata']}, expected map[string]interface{}`,
    );
  }
  if (patched['metadata'] === undefined) patched['metadata'] = {};
  return patched as KubeObject;
}
