// Sends SubjectAccessReviews to a cluster with @kubernetes/client-node, for delegated
// authorization (--authorization-kubeconfig, or the in-cluster service account).

import { AuthorizationV1Api, KubeConfig, type V1SubjectAccessReview } from '@kubernetes/client-node';
import type { SubjectAccessReviewer } from './delegating.js';

/** A reviewer for a kubeconfig given as YAML text. */
export function subjectAccessReviewer(kubeconfigYAML: string): SubjectAccessReviewer {
  const kc = new KubeConfig();
  kc.loadFromString(kubeconfigYAML);
  return subjectAccessReviewerFor(kc);
}

/** A reviewer for an already loaded KubeConfig. */
export function subjectAccessReviewerFor(kc: KubeConfig): SubjectAccessReviewer {
  const api = kc.makeApiClient(AuthorizationV1Api);
  return async (spec) => {
    const body = { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec } as V1SubjectAccessReview;
    const answer = await api.createSubjectAccessReview({ body });
    return answer.status ?? {};
  };
}
