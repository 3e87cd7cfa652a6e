// Delegated authorization for an aggregated server: system:masters and public paths are
// allowed locally; everything else is decided by the cluster through a SubjectAccessReview,
// with allow and deny answers cached for 10 s as k8s.io/apiserver does.

import type { Attributes, AuthorizationResult } from './attributes.js';
import {
  decisionFromSubjectAccessReviewStatus,
  subjectAccessReviewSpecFromAttributes,
  type SubjectAccessReviewStatus,
} from './attributes.js';
import {
  PathAuthorizer,
  PrivilegedGroupsAuthorizer,
  DEFAULT_ALWAYS_ALLOW_PATHS,
  SYSTEM_PRIVILEGED_GROUP,
} from './authorizer.js';

export interface AsyncAuthorizer {
  authorize(attrs: Attributes): AuthorizationResult | Promise<AuthorizationResult>;
}

/** Sends a SubjectAccessReview spec to the cluster and returns its status. */
export type SubjectAccessReviewer = (
  spec: ReturnType<typeof subjectAccessReviewSpecFromAttributes>,
) => Promise<Partial<SubjectAccessReviewStatus>>;

export interface DelegatingAuthorizerOptions {
  cacheTTLMs?: number;
  now?: () => number;
}

export class DelegatingAuthorizer implements AsyncAuthorizer {
  private readonly privileged = new PrivilegedGroupsAuthorizer(SYSTEM_PRIVILEGED_GROUP);
  private readonly paths = new PathAuthorizer(DEFAULT_ALWAYS_ALLOW_PATHS);
  private readonly cache = new Map<string, { result: AuthorizationResult; expires: number }>();
  private readonly ttl: number;
  private readonly now: () => number;

  constructor(
    private readonly review: SubjectAccessReviewer,
    opts: DelegatingAuthorizerOptions = {},
  ) {
    this.ttl = opts.cacheTTLMs ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  async authorize(attrs: Attributes): Promise<AuthorizationResult> {
    for (const local of [this.privileged, this.paths]) {
      const r = local.authorize(attrs);
      if (r.decision !== 'NoOpinion') return r;
    }
    const spec = subjectAccessReviewSpecFromAttributes(attrs);
    const key = JSON.stringify(spec);
    const hit = this.cache.get(key);
    if (hit && hit.expires > this.now()) return hit.result;
    let result: AuthorizationResult;
    try {
      result = decisionFromSubjectAccessReviewStatus(await this.review(spec));
    } catch (err) {
      // An unreachable authorizer denies nothing for good: it has no opinion, and nothing is cached.
      return {
        decision: 'NoOpinion',
        reason: '',
        error: `error contacting the authorization webhook: ${(err as Error).message}`,
      };
    }
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(key, { result, expires: this.now() + this.ttl });
    return result;
  }
}
