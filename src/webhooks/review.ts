// AdmissionReview v1 on the webhook side: reading a review the API server sent and building the
// response it expects (the request's uid echoed, `patchType: JSONPatch` with a base64 patch,
// warnings, a Status with code and message on denial).

import type { AdmissionRequest, AdmissionResponse, AdmissionReview } from '../machinery/admission.js';
import { invalid, type FieldError, type Status } from '../machinery/errors.js';
import type { JSONPatchOp } from './patch.js';

export const ADMISSION_REVIEW_VERSIONS = ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'];

/** A review body that is not an AdmissionReview we can answer; the server answers 400. */
export class BadReviewError extends Error {}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Checks the shape of a decoded body and returns its request. */
export function decodeReview(body: unknown): { apiVersion: string; request: AdmissionRequest } {
  if (!isRecord(body)) throw new BadReviewError('the body is not a JSON object');
  const apiVersion = body['apiVersion'];
  if (
    body['kind'] !== 'AdmissionReview' ||
    typeof apiVersion !== 'string' ||
    !ADMISSION_REVIEW_VERSIONS.includes(apiVersion)
  )
    throw new BadReviewError(
      `expected an AdmissionReview of ${ADMISSION_REVIEW_VERSIONS.join(' or ')}, got ${String(apiVersion)}, Kind=${String(body['kind'])}`,
    );
  const request = body['request'];
  if (!isRecord(request)) throw new BadReviewError('the AdmissionReview has no request');
  if (typeof request['uid'] !== 'string' || request['uid'] === '') throw new BadReviewError('request.uid is missing');
  for (const key of ['kind', 'resource', 'userInfo'] as const)
    if (!isRecord(request[key])) throw new BadReviewError(`request.${key} is missing`);
  if (typeof request['operation'] !== 'string') throw new BadReviewError('request.operation is missing');
  return { apiVersion, request: request as unknown as AdmissionRequest };
}

/** The review to send back: same apiVersion as received, the response's uid the request's. */
export function encodeReview(apiVersion: string, response: AdmissionResponse): AdmissionReview {
  return { apiVersion, kind: 'AdmissionReview', response };
}

export function allow(req: AdmissionRequest, warnings: string[] = []): AdmissionResponse {
  return { uid: req.uid, allowed: true, ...(warnings.length ? { warnings } : {}) };
}

/** A denial with a Status (kube's webhook client shows `status.message`). */
export function deny(req: AdmissionRequest, status: Partial<Status>, warnings: string[] = []): AdmissionResponse {
  return {
    uid: req.uid,
    allowed: false,
    status: { ...status, status: 'Failure' } as AdmissionResponse['status'],
    ...(warnings.length ? { warnings } : {}),
  };
}

/**
 * A denial for field errors, as the API server's own validation reports them: 422 Invalid,
 * `<Kind>.<group> "<name>" is invalid: <field>: <error>, ...`, causes per field.
 */
export function denyInvalid(req: AdmissionRequest, errors: FieldError[], warnings: string[] = []): AdmissionResponse {
  const object = (req.object ?? req.oldObject ?? {}) as { metadata?: { name?: string; generateName?: string } };
  const name = req.name || object.metadata?.name || object.metadata?.generateName || '';
  const err = invalid(req.kind.kind, req.kind.group, name, errors);
  const { kind: _kind, apiVersion: _apiVersion, metadata: _metadata, status: _status, ...status } = err.toStatus();
  return deny(req, status, warnings);
}

/** Allows with a JSON patch (none when there is nothing to change). */
export function patch(req: AdmissionRequest, ops: JSONPatchOp[], warnings: string[] = []): AdmissionResponse {
  if (ops.length === 0) return allow(req, warnings);
  return {
    ...allow(req, warnings),
    patchType: 'JSONPatch',
    patch: Buffer.from(JSON.stringify(ops), 'utf8').toString('base64'),
  };
}
