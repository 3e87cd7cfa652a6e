// The create-only review kinds of authentication.k8s.io/v1 and authorization.k8s.io/v1. None is
// ever stored: each POST is answered by a handler (./reviews.ts) that fills in `status`. The
// schemas follow kube's OpenAPI (k8s.io/api authentication/v1 and authorization/v1 types.go) and
// stay permissive: the handlers check what they read.

import { defineResource, type JSONSchema, type ResourceDefinition } from '../../machinery/definition.js';
import { bool, map, object, str, strings } from '../../machinery/schema.js';

export const AUTHENTICATION_GROUP = 'authentication.k8s.io';
export const AUTHORIZATION_GROUP = 'authorization.k8s.io';

const extraMap = (description: string): JSONSchema => map(description, { type: 'array', items: { type: 'string' } });
const atomicStrings = (description: string): JSONSchema => strings(description, { 'x-kubernetes-list-type': 'atomic' });
const obj = (description: string, properties: Record<string, JSONSchema>, required?: string[]): JSONSchema =>
  object(description, properties, required ? { required } : {});

function reviewDefinition(
  group: string,
  kind: string,
  namespaced: boolean,
  description: string,
  properties: Record<string, JSONSchema>,
  required: string[],
): ResourceDefinition {
  return defineResource({
    group,
    version: 'v1',
    kind,
    namespaced,
    description,
    schema: obj(description, properties, required),
    verbs: ['create'],
  });
}

// ---- authentication.k8s.io/v1 -----------------------------------------------------------------

const userInfo = obj('UserInfo holds the information about the user needed to implement the user.Info interface.', {
  username: str('The name that uniquely identifies this user among all active users.'),
  uid: str(
    'A unique value that identifies this user across time. If this user is deleted and another user by the same name is added, they will have different UIDs.',
  ),
  groups: atomicStrings('The names of groups this user is a part of.'),
  extra: extraMap('Any additional information provided by the authenticator.'),
});

export const tokenReviewDefinition = reviewDefinition(
  AUTHENTICATION_GROUP,
  'TokenReview',
  false,
  'TokenReview attempts to authenticate a token to a known user. Note: TokenReview requests may be cached by the webhook token authenticator plugin in the kube-apiserver.',
  {
    spec: obj('Spec holds information about the request being evaluated', {
      token: str('Token is the opaque bearer token.'),
      audiences: atomicStrings(
        'Audiences is a list of the identifiers that the resource server presented with the token identifies as. Audience-aware token authenticators will verify that the token was intended for at least one of the audiences in this list. If no audiences are provided, the audience will default to the audience of the Kubernetes apiserver.',
      ),
    }),
    status: obj('Status is filled in by the server and indicates whether the request can be authenticated.', {
      authenticated: bool('Authenticated indicates that the token was associated with a known user.'),
      user: userInfo,
      audiences: atomicStrings(
        "Audiences are audience identifiers chosen by the authenticator that are compatible with both the TokenReview and token. An identifier is any identifier in the intersection of the TokenReviewSpec audiences and the token's audiences.",
      ),
      error: str("Error indicates that the token couldn't be checked"),
    }),
  },
  ['spec'],
);

export const selfSubjectReviewDefinition = reviewDefinition(
  AUTHENTICATION_GROUP,
  'SelfSubjectReview',
  false,
  'SelfSubjectReview contains the user information that the kube-apiserver has about the user making this request. When using impersonation, users will receive the user info of the user being impersonated.',
  {
    status: obj('Status is filled in by the server with the user attributes.', {
      userInfo: userInfo,
    }),
  },
  [],
);

// ---- authorization.k8s.io/v1 ------------------------------------------------------------------

const selectorRequirement = obj('A requirement of a field or label selector.', {
  key: str('key is the field or label selector key that the requirement applies to.'),
  operator: str(
    "operator represents a key's relationship to a set of values. Valid operators are In, NotIn, Exists, DoesNotExist.",
  ),
  values: atomicStrings('values is an array of string values.'),
});

const resourceAttributes = obj('ResourceAuthorizationAttributes describes information for a resource access request', {
  namespace: str(
    'Namespace is the namespace of the action being requested.  Currently, there is no distinction between no namespace and all namespaces "" (empty) is defaulted for LocalSubjectAccessReviews "" (empty) is empty for cluster-scoped resources "" (empty) means "all" for namespace scoped resources from a SubjectAccessReview or SelfSubjectAccessReview',
  ),
  verb: str(
    'Verb is a kubernetes resource API verb, like: get, list, watch, create, update, delete, proxy.  "*" means all.',
  ),
  group: str('Group is the API Group of the Resource.  "*" means all.'),
  version: str('Version is the API Version of the Resource.  "*" means all.'),
  resource: str('Resource is one of the existing resource types.  "*" means all.'),
  subresource: str('Subresource is one of the existing resource types.  "" means none.'),
  name: str(
    'Name is the name of the resource being requested for a "get" or deleted for a "delete". "" (empty) means all.',
  ),
  fieldSelector: obj(
    'fieldSelector describes the limitation on access based on field.  It can only limit access, not broaden it.',
    {
      rawSelector: str(
        'rawSelector is the serialization of a field selector that would be included in a query parameter.',
      ),
      requirements: {
        type: 'array',
        description: 'requirements is the parsed interpretation of a field selector.',
        items: selectorRequirement,
      },
    },
  ),
  labelSelector: obj(
    'labelSelector describes the limitation on access based on labels.  It can only limit access, not broaden it.',
    {
      rawSelector: str(
        'rawSelector is the serialization of a field selector that would be included in a query parameter.',
      ),
      requirements: {
        type: 'array',
        description: 'requirements is the parsed interpretation of a label selector.',
        items: selectorRequirement,
      },
    },
  ),
});

const nonResourceAttributes = obj('NonResourceAttributes describes information for a NonResourceAccessReview request', {
  path: str('Path is the URL path of the request'),
  verb: str('Verb is the standard HTTP verb'),
});

const accessReviewStatus = obj(
  'Status is filled in by the server and indicates whether the request is allowed or not',
  {
    allowed: bool('Allowed is required. True if the action would be allowed, false otherwise.'),
    denied: bool(
      'Denied is optional. True if the action would be denied, otherwise false. If both allowed is false and denied is false, then the authorizer has no opinion on whether to authorize the action. Denied may not be true if Allowed is true.',
    ),
    reason: str('Reason is optional.  It indicates why a request was allowed or denied.'),
    evaluationError: str(
      'EvaluationError is an indication that some error occurred during the authorization check. It is entirely possible to get an error and be able to continue determine authorization status in spite of it. For instance, RBAC can be missing a role, but enough roles are still present and bound to reason about the request.',
    ),
  },
);

const subjectAccessReviewSpec = (description: string): JSONSchema =>
  obj(description, {
    resourceAttributes,
    nonResourceAttributes,
    user: str(
      'User is the user you\'re testing for. If you specify "User" but not "Groups", then is it interpreted as "What if User were not a member of any groups',
    ),
    groups: atomicStrings("Groups is the groups you're testing for."),
    extra: extraMap(
      'Extra corresponds to the user.Info.GetExtra() method from the authenticator.  Since that is input to the authorizer it needs a reflection here.',
    ),
    uid: str('UID information about the requesting user.'),
  });

export const subjectAccessReviewDefinition = reviewDefinition(
  AUTHORIZATION_GROUP,
  'SubjectAccessReview',
  false,
  'SubjectAccessReview checks whether or not a user or group can perform an action.',
  {
    spec: subjectAccessReviewSpec('Spec holds information about the request being evaluated'),
    status: accessReviewStatus,
  },
  ['spec'],
);

export const localSubjectAccessReviewDefinition = reviewDefinition(
  AUTHORIZATION_GROUP,
  'LocalSubjectAccessReview',
  true,
  'LocalSubjectAccessReview checks whether or not a user or group can perform an action in a given namespace. Having a namespace scoped resource makes it much easier to grant namespace scoped policy that includes permissions checking.',
  {
    spec: subjectAccessReviewSpec(
      'Spec holds information about the request being evaluated.  spec.namespace must be equal to the namespace you made the request against.  If empty, it is defaulted.',
    ),
    status: accessReviewStatus,
  },
  ['spec'],
);

export const selfSubjectAccessReviewDefinition = reviewDefinition(
  AUTHORIZATION_GROUP,
  'SelfSubjectAccessReview',
  false,
  'SelfSubjectAccessReview checks whether or the current user can perform an action.  Not filling in a spec.namespace means "in all namespaces".  Self is a special case, because users should always be able to check whether they can perform an action',
  {
    spec: obj('Spec holds information about the request being evaluated.  user and groups must be empty', {
      resourceAttributes,
      nonResourceAttributes,
    }),
    status: accessReviewStatus,
  },
  ['spec'],
);

const resourceRule = obj(
  "ResourceRule is the list of actions the subject is allowed to perform on resources. The list ordering isn't significant, may contain duplicates, and possibly be incomplete.",
  {
    verbs: atomicStrings(
      'Verb is a list of kubernetes resource API verbs, like: get, list, watch, create, update, delete, proxy.  "*" means all.',
    ),
    apiGroups: atomicStrings(
      'APIGroups is the name of the APIGroup that contains the resources.  If multiple API groups are specified, any action requested against one of the enumerated resources in any API group will be allowed.  "*" means all.',
    ),
    resources: atomicStrings(
      'Resources is a list of resources this rule applies to.  "*" means all in the specified apiGroups.\n "*/foo" represents the subresource \'foo\' for all resources in the specified apiGroups.',
    ),
    resourceNames: atomicStrings(
      'ResourceNames is an optional white list of names that the rule applies to.  An empty set means that everything is allowed.  "*" means all.',
    ),
  },
  ['verbs'],
);

const nonResourceRule = obj(
  'NonResourceRule holds information that describes a rule for the non-resource',
  {
    verbs: atomicStrings(
      'Verb is a list of kubernetes non-resource API verbs, like: get, post, put, delete, patch, head, options.  "*" means all.',
    ),
    nonResourceURLs: atomicStrings(
      'NonResourceURLs is a set of partial urls that a user should have access to.  *s are allowed, but only as the full, final step in the path.  "*" means all.',
    ),
  },
  ['verbs'],
);

export const selfSubjectRulesReviewDefinition = reviewDefinition(
  AUTHORIZATION_GROUP,
  'SelfSubjectRulesReview',
  false,
  "SelfSubjectRulesReview enumerates the set of actions the current user can perform within a namespace. The returned list of actions may be incomplete depending on the server's authorization mode, and any errors experienced during the evaluation. SelfSubjectRulesReview should be used by UIs to show/hide actions, or to quickly let an end user reason about their permissions. It should NOT Be used by external systems to drive authorization decisions as this raises confused deputy, cache lifetime/revocation, and correctness concerns. SubjectAccessReview, and LocalAccessReview are the correct way to defer authorization decisions to the API server.",
  {
    spec: obj('Spec holds information about the request being evaluated.', {
      namespace: str('Namespace to evaluate rules for. Required.'),
    }),
    status: obj('Status is filled in by the server and indicates the set of actions a user can perform.', {
      resourceRules: {
        type: 'array',
        description:
          "ResourceRules is the list of actions the subject is allowed to perform on resources. The list ordering isn't significant, may contain duplicates, and possibly be incomplete.",
        items: resourceRule,
      },
      nonResourceRules: {
        type: 'array',
        description:
          "NonResourceRules is the list of actions the subject is allowed to perform on non-resources. The list ordering isn't significant, may contain duplicates, and possibly be incomplete.",
        items: nonResourceRule,
      },
      incomplete: bool(
        "Incomplete is true when the rules returned by this call are incomplete. This is most commonly encountered when an authorizer, such as an external authorizer, doesn't support rules evaluation.",
      ),
      evaluationError: str(
        "EvaluationError can appear in combination with Rules. It indicates an error occurred during rule evaluation, such as an authorizer that doesn't support rule evaluation, and that ResourceRules and/or NonResourceRules may be incomplete.",
      ),
    }),
  },
  ['spec'],
);

/** Every review kind, authentication.k8s.io first. */
export const reviewDefinitions: readonly ResourceDefinition[] = [
  tokenReviewDefinition,
  selfSubjectReviewDefinition,
  subjectAccessReviewDefinition,
  selfSubjectAccessReviewDefinition,
  localSubjectAccessReviewDefinition,
  selfSubjectRulesReviewDefinition,
];
