// The control plane's authorizer, as kube-apiserver chains it: system:masters may do anything
// (authorizerfactory.NewPrivilegedGroups), then RBAC over the stored objects with aggregated
// ClusterRoles resolved at evaluation time (no aggregation controller runs), then deny. Public
// paths are not special-cased: the bootstrap policy grants them (system:public-info-viewer).

import type { UserInfo } from '../../apiserver/authentication/authenticator.js';
import type { Attributes, AuthorizationResult } from '../../apiserver/authorization/attributes.js';
import {
  PrivilegedGroupsAuthorizer,
  SYSTEM_PRIVILEGED_GROUP,
  UnionAuthorizer,
  type Authorizer,
} from '../../apiserver/authorization/authorizer.js';
import type { AsyncAuthorizer } from '../../apiserver/authorization/delegating.js';
import { RBACAuthorizer, type RBACSource } from '../../apiserver/authorization/rbac.js';
import type { SubjectRulesReviewStatus } from '../../apiserver/authorization/types.js';
import { impersonationFailure } from './impersonation.js';

export interface ControlPlaneAuthorizerOptions {
  /** Default ['system:masters']. */
  privilegedGroups?: string[];
}

export class ControlPlaneAuthorizer implements AsyncAuthorizer {
  readonly rbac: RBACAuthorizer;
  /** The synchronous chain (system:masters → RBAC): what SubjectAccessReviews and impersonation
   * checks ask. */
  readonly chain: Authorizer;

  constructor(source: RBACSource, opts: ControlPlaneAuthorizerOptions = {}) {
    this.rbac = new RBACAuthorizer(source, { aggregation: 'resolve' });
    this.chain = new UnionAuthorizer(
      new PrivilegedGroupsAuthorizer(...(opts.privilegedGroups ?? [SYSTEM_PRIVILEGED_GROUP])),
      this.rbac,
    );
  }

  /** For the server's authorization filter: a request whose impersonation was refused fails with
   * that 403 (or 400), as kube's impersonation filter answers; anything else goes to the chain. */
  authorize(attrs: Attributes): AuthorizationResult | Promise<AuthorizationResult> {
    const failure = impersonationFailure(attrs.user);
    if (failure) return Promise.reject(failure);
    return this.chain.authorize(attrs);
  }

  /** The synchronous decision (never consults impersonation failures). */
  decide(attrs: Attributes): AuthorizationResult {
    return this.chain.authorize(attrs);
  }

  /** SelfSubjectRulesReview: RBAC's rules for the user in the namespace. */
  rulesFor(user: UserInfo, namespace: string): SubjectRulesReviewStatus {
    return this.rbac.rulesFor(user, namespace);
  }
}

/** system:masters → RBAC (aggregation resolved) → deny. */
export function newControlPlaneAuthorizer(
  source: RBACSource,
  opts: ControlPlaneAuthorizerOptions = {},
): ControlPlaneAuthorizer {
  return new ControlPlaneAuthorizer(source, opts);
}
