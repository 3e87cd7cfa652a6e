// metav1.Status errors with kube-apiserver's codes, reasons and messages
// (k8s.io/apimachinery/pkg/api/errors). Every failure the server answers is one of these.

export type StatusReason =
  | 'BadRequest'
  | 'Unauthorized'
  | 'Forbidden'
  | 'NotFound'
  | 'MethodNotAllowed'
  | 'NotAcceptable'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Gone'
  | 'Expired'
  | 'RequestEntityTooLarge'
  | 'UnsupportedMediaType'
  | 'Invalid'
  | 'TooManyRequests'
  | 'InternalError'
  | 'ServiceUnavailable'
  | 'Timeout';

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, unknown>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: StatusReason | string;
  details?: StatusDetails;
  code: number;
}

/** What an error message names: the resource (`unitsets.upm.io`) and the object name. */
export interface Target {
  group: string;
  /** Resource (plural) name; kube reports it as `details.kind`. */
  resource: string;
  name?: string;
}

function qualified(t: Target): string {
  return t.group ? `${t.resource}.${t.group}` : t.resource;
}

export class StatusError extends Error {
  constructor(
    readonly code: number,
    readonly reason: StatusReason,
    message: string,
    readonly details?: StatusDetails,
    /** Extra response headers, e.g. Retry-After. */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'StatusError';
  }

  toStatus(): Status {
    const s: Status = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      code: this.code,
    };
    if (this.details && Object.keys(this.details).length > 0) s.details = this.details;
    return s;
  }
}

function targetDetails(t: Target): StatusDetails {
  const d: StatusDetails = {};
  if (t.name) d.name = t.name;
  if (t.group) d.group = t.group;
  d.kind = t.resource;
  return d;
}

export function notFound(t: Target): StatusError {
  return new StatusError(404, 'NotFound', `${qualified(t)} "${t.name ?? ''}" not found`, targetDetails(t));
}

/** The kube text for an unknown path; the aggregator conformance test polls for it. */
export function pathNotFound(): StatusError {
  return new StatusError(404, 'NotFound', 'the server could not find the requested resource', {});
}

export function alreadyExists(t: Target): StatusError {
  return new StatusError(409, 'AlreadyExists', `${qualified(t)} "${t.name ?? ''}" already exists`, targetDetails(t));
}

export function conflict(t: Target, detail: string): StatusError {
  return new StatusError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${qualified(t)} "${t.name ?? ''}": ${detail}`,
    targetDetails(t),
  );
}

export const OBJECT_MODIFIED =
  'the object has been modified; please apply your changes to the latest version and try again';

export function badRequest(message: string, causes?: StatusCause[]): StatusError {
  return new StatusError(400, 'BadRequest', message, causes ? { causes } : undefined);
}

export function unauthorized(): StatusError {
  return new StatusError(401, 'Unauthorized', 'Unauthorized');
}

export function forbidden(t: Target, detail: string): StatusError {
  return new StatusError(
    403,
    'Forbidden',
    `${qualified(t)} "${t.name ?? ''}" is forbidden: ${detail}`,
    targetDetails(t),
  );
}

export function methodNotAllowed(verb: string, t: Target): StatusError {
  return new StatusError(
    405,
    'MethodNotAllowed',
    `${verb} is not supported on resources of kind "${qualified(t)}"`,
    targetDetails(t),
  );
}

export function notAcceptable(supported: string[]): StatusError {
  return new StatusError(406, 'NotAcceptable', `only the following media types are accepted: ${supported.join(', ')}`);
}

export function unsupportedMediaType(contentType: string, supported: string[]): StatusError {
  return new StatusError(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: ${supported.join(', ')}`,
    contentType ? { causes: [{ reason: 'UnexpectedServerResponse', message: contentType }] } : undefined,
  );
}

export function tooLarge(limitBytes: number): StatusError {
  return new StatusError(413, 'RequestEntityTooLarge', `Request entity too large: limit is ${limitBytes}`);
}

export function expired(message: string): StatusError {
  return new StatusError(410, 'Expired', message);
}

export function gone(message: string): StatusError {
  return new StatusError(410, 'Gone', message);
}

export function internalError(err: unknown): StatusError {
  const msg = err instanceof Error ? err.message : String(err);
  return new StatusError(500, 'InternalError', `Internal error occurred: ${msg}`, { causes: [{ message: msg }] });
}

export function timeout(message: string, retryAfterSeconds: number, cause?: StatusCause): StatusError {
  return new StatusError(
    504,
    'Timeout',
    `Timeout: ${message}`,
    { retryAfterSeconds, ...(cause ? { causes: [cause] } : {}) },
    { 'Retry-After': String(retryAfterSeconds) },
  );
}

export function serviceUnavailable(message: string): StatusError {
  return new StatusError(503, 'ServiceUnavailable', message);
}

/** One field error, as k8s.io/apimachinery/pkg/util/validation/field renders them. */
export interface FieldError {
  type:
    | 'FieldValueRequired'
    | 'FieldValueInvalid'
    | 'FieldValueNotSupported'
    | 'FieldValueForbidden'
    | 'FieldValueDuplicate'
    | 'FieldValueTooLong'
    | 'FieldValueTooMany'
    | 'FieldValueNotFound'
    | 'FieldValueTypeInvalid';
  field: string;
  value?: unknown;
  detail: string;
}

const fieldErrorLabel: Record<FieldError['type'], string> = {
  FieldValueRequired: 'Required value',
  FieldValueInvalid: 'Invalid value',
  FieldValueNotSupported: 'Unsupported value',
  FieldValueForbidden: 'Forbidden',
  FieldValueDuplicate: 'Duplicate value',
  FieldValueTooLong: 'Too long',
  FieldValueTooMany: 'Too many',
  FieldValueNotFound: 'Not found',
  FieldValueTypeInvalid: 'Invalid value',
};

function renderValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null) return 'null';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/**
 * `Invalid value: -1: must be greater than or equal to 0` (no field prefix), as field.Error's
 * ErrorBody: the value for the kinds that show one, then `: detail` when there is a detail.
 */
export function fieldErrorBody(e: FieldError): string {
  const label = fieldErrorLabel[e.type];
  const showsValue =
    e.type === 'FieldValueInvalid' ||
    e.type === 'FieldValueNotSupported' ||
    e.type === 'FieldValueDuplicate' ||
    e.type === 'FieldValueNotFound' ||
    e.type === 'FieldValueTypeInvalid';
  const head = showsValue && e.value !== undefined ? `${label}: ${renderValue(e.value)}` : label;
  return e.detail ? `${head}: ${e.detail}` : head;
}

/** 422 `UnitSet.upm.io "x" is invalid: spec.units: Invalid value: -1: must be ...`. */
export function invalid(kind: string, group: string, name: string, errors: FieldError[]): StatusError {
  const qualifiedKind = group ? `${kind}.${group}` : kind;
  const rendered = errors.map((e) => `${e.field}: ${fieldErrorBody(e)}`);
  const summary = rendered.length === 1 ? rendered[0] : `[${rendered.join(', ')}]`;
  const details: StatusDetails = {
    name,
    ...(group ? { group } : {}),
    kind,
    causes: errors.map((e) => ({ reason: e.type, message: fieldErrorBody(e), field: e.field })),
  };
  return new StatusError(422, 'Invalid', `${qualifiedKind} "${name}" is invalid: ${summary}`, details);
}

export function isStatusError(err: unknown): err is StatusError {
  return err instanceof StatusError;
}

// ---- telling errors apart (k8s.io/apimachinery/pkg/api/errors IsNotFound, ReasonForError, ...) ----

const knownReasons = new Set<string>([
  'BadRequest',
  'Unauthorized',
  'Forbidden',
  'NotFound',
  'MethodNotAllowed',
  'NotAcceptable',
  'AlreadyExists',
  'Conflict',
  'Gone',
  'Expired',
  'RequestEntityTooLarge',
  'UnsupportedMediaType',
  'Invalid',
  'TooManyRequests',
  'InternalError',
  'ServiceUnavailable',
  'Timeout',
]);

/**
 * The HTTP code and Status reason an error carries: a StatusError of ours, or a client's API error
 * (client-node's ApiException: `code` and the response `body`, a Status as text or object).
 * Anything else (a socket error, a bug) has neither.
 */
export function statusOf(err: unknown): { code?: number; reason?: string } {
  if (err instanceof StatusError) return { code: err.code, reason: err.reason };
  if (typeof err !== 'object' || err === null) return {};
  const e = err as { code?: unknown; statusCode?: unknown; body?: unknown };
  const code = typeof e.code === 'number' ? e.code : typeof e.statusCode === 'number' ? e.statusCode : undefined;
  let body = e.body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      body = undefined;
    }
  }
  const reason =
    typeof body === 'object' && body !== null && typeof (body as { reason?: unknown }).reason === 'string'
      ? (body as { reason: string }).reason
      : undefined;
  return { code, reason };
}

/** The Status reason of an error, or '' when it has none (kube's ReasonForError → Unknown). */
export function reasonOf(err: unknown): string {
  return statusOf(err).reason ?? '';
}

/** Reason `reason`, or, for an error whose reason is not one kube knows, HTTP `code` (as kube decides). */
function hasReason(err: unknown, reason: StatusReason, code: number): boolean {
  const s = statusOf(err);
  if (s.reason === reason) return true;
  return (s.reason === undefined || !knownReasons.has(s.reason)) && s.code === code;
}

export const isNotFound = (err: unknown): boolean => hasReason(err, 'NotFound', 404);
export const isConflict = (err: unknown): boolean => hasReason(err, 'Conflict', 409);
export const isAlreadyExists = (err: unknown): boolean => statusOf(err).reason === 'AlreadyExists';
export const isInvalid = (err: unknown): boolean => hasReason(err, 'Invalid', 422);
export const isUnauthorized = (err: unknown): boolean => hasReason(err, 'Unauthorized', 401);
export const isForbidden = (err: unknown): boolean => hasReason(err, 'Forbidden', 403);
export const isGone = (err: unknown): boolean => {
  const s = statusOf(err);
  return s.reason === 'Gone' || s.reason === 'Expired' || s.code === 410;
};
