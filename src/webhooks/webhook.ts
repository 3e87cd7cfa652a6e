// What a webhook of this server is: a path, how it is registered (the rules and policies of its
// entry in a Mutating/ValidatingWebhookConfiguration) and a review function. The review is a
// function of the request and of what the webhook reads from the cache; server.ts does HTTP.

import type { AdmissionRequest, AdmissionResponse, Operation } from '../machinery/admission.js';
import type { LabelSelector } from '../machinery/labels.js';

export interface WebhookRule {
  operations: Operation[];
  apiGroups: string[];
  apiVersions: string[];
  resources: string[];
  scope?: 'Cluster' | 'Namespaced' | '*';
}

export interface AdmissionWebhook {
  /** The webhook's name in its configuration (at least three dot-separated segments). */
  name: string;
  /** URL path on this server. */
  path: string;
  type: 'validating' | 'mutating';
  rules: WebhookRule[];
  failurePolicy: 'Fail' | 'Ignore';
  timeoutSeconds: number;
  reinvocationPolicy?: 'Never' | 'IfNeeded';
  objectSelector?: LabelSelector;
  /**
   * Answers one request. Throwing makes the server answer HTTP 500 (a failed call: the
   * configuration's failurePolicy decides), which is right when an input cannot be read.
   */
  review(request: AdmissionRequest): AdmissionResponse | Promise<AdmissionResponse>;
}

/** Namespaces no webhook of ours is called for: kube's own and ours (a broken webhook must not lock them). */
export const exemptNamespaces = ['kube-system', 'upm-system'];

export const upmRule = (resource: string, operations: Operation[]): WebhookRule => ({
  operations,
  apiGroups: ['upm.io'],
  apiVersions: ['v1alpha1'],
  resources: [resource],
});
