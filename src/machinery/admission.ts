// AdmissionReview v1 (k8s.io/api/admission/v1) as it travels between an API server and an admission
// webhook: the API server's webhook client and our webhook server both speak it.

import type { Status } from './errors.js';
import type { KubeObject } from './object.js';

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export interface GroupVersionResource {
  group: string;
  version: string;
  resource: string;
}

/** authentication.k8s.io/v1 UserInfo as sent in an AdmissionRequest. */
export interface ReviewUserInfo {
  username?: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

export interface AdmissionRequest {
  uid: string;
  kind: GroupVersionKind;
  resource: GroupVersionResource;
  subResource?: string;
  requestKind?: GroupVersionKind;
  requestResource?: GroupVersionResource;
  requestSubResource?: string;
  name?: string;
  namespace?: string;
  operation: Operation;
  userInfo: ReviewUserInfo;
  /** null on DELETE (and CONNECT without a body). */
  object: KubeObject | Record<string, unknown> | null;
  /** null on CREATE and CONNECT. */
  oldObject: KubeObject | null;
  dryRun: boolean;
  /** CreateOptions, UpdateOptions or DeleteOptions (meta.k8s.io/v1), or null. */
  options: Record<string, unknown> | null;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: Partial<Status> & Record<string, unknown>;
  /** Base64 of an RFC 6902 JSON patch. */
  patch?: string;
  patchType?: string;
  auditAnnotations?: Record<string, string>;
  warnings?: string[];
}

export interface AdmissionReview {
  apiVersion: string;
  kind: 'AdmissionReview';
  request?: AdmissionRequest;
  response?: AdmissionResponse;
}
