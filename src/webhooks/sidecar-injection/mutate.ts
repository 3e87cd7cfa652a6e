// Mutating webhook for Pods: injects the containers of matching SidecarSets (inject.ts) and
// answers the change as a JSON patch computed against the Pod as received. Registered for
// CREATE only: a Pod that runs is never changed by injection, so a SidecarSet change reaches it
// when it is replaced.

import type { AdmissionRequest, AdmissionResponse } from '../../machinery/admission.js';
import type { KubeObject } from '../../machinery/object.js';
import { createJSONPatch } from '../patch.js';
import { allow, patch } from '../review.js';
import type { ClusterState } from '../state.js';
import type { AdmissionWebhook } from '../webhook.js';
import { injectSidecars, type SidecarSetInput } from './inject.js';

export function reviewPodInjection(
  req: AdmissionRequest,
  sidecarSets: SidecarSetInput[],
  namespaceLabels: Record<string, string>,
): AdmissionResponse {
  if (req.operation !== 'CREATE' || !req.object) return allow(req);
  const pod = req.object as KubeObject;
  const result = injectSidecars(pod, sidecarSets, namespaceLabels);
  if (result.injected.length === 0) return allow(req, result.warnings);
  return patch(req, createJSONPatch(pod, result.pod), result.warnings);
}

export function sidecarInjectionWebhook(state: ClusterState): AdmissionWebhook {
  return {
    name: 'sidecars.inject.upm.io',
    path: '/mutate-pod-sidecars',
    type: 'mutating',
    rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }],
    // Injection is optional for the Pod's own work: a webhook that is down must not stop Pods.
    failurePolicy: 'Ignore',
    timeoutSeconds: 5,
    // Idempotent, so it may run again after another webhook changed the Pod.
    reinvocationPolicy: 'IfNeeded',
    review: (req) => {
      const namespace = req.namespace ?? '';
      const labels = { ...(state.namespaceLabels(namespace) ?? {}), 'kubernetes.io/metadata.name': namespace };
      return reviewPodInjection(req, state.sidecarSets(), labels);
    },
  };
}
