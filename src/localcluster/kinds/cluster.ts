// The non-core built-in kinds the local control plane serves: coordination.k8s.io leases,
// admission webhook configurations and policies, RBAC and apiregistration.k8s.io APIServices.

import { defineResource, type JSONSchema, type ResourceDefinition } from '../../machinery/definition.js';
import {
  bool,
  conditionList,
  int32,
  intOrString,
  kindSchema,
  loose,
  looseList,
  str,
  strings,
  time,
} from '../../machinery/schema.js';

const ageColumn = { name: 'Age', jsonPath: '.metadata.creationTimestamp' } as const;

// ---- coordination.k8s.io/v1 ---------------------------------------------------------------------

export const leaseDefinition = defineResource({
  group: 'coordination.k8s.io',
  version: 'v1',
  kind: 'Lease',
  namespaced: true,
  description: 'Lease defines a lease concept.',
  schema: kindSchema('Lease defines a lease concept.', {
    spec: loose(
      'spec contains the specification of the Lease. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#spec-and-status',
      {
        holderIdentity: str('holderIdentity contains the identity of the holder of a current lease.'),
        leaseDurationSeconds: int32(
          'leaseDurationSeconds is a duration that candidates for a lease need to wait to force acquire it.',
        ),
        acquireTime: time('acquireTime is a time when the current lease was acquired.'),
        renewTime: time('renewTime is a time when the current holder of a lease has last updated the lease.'),
        leaseTransitions: int32('leaseTransitions is the number of transitions of a lease between holders.'),
        strategy: str('Strategy indicates the strategy for picking the leader for coordinated leader election.'),
        preferredHolder: str(
          'PreferredHolder signals to a lease holder that the lease has a more optimal holder and should be given up.',
        ),
      },
    ),
  }),
  printerColumns: [{ name: 'Holder', jsonPath: '.spec.holderIdentity' }, ageColumn],
  subresources: {},
});

// ---- policy/v1 -----------------------------------------------------------------------------------

const pdbDescription =
  'PodDisruptionBudget is an object to define the max disruption that can be caused to a collection of pods';

/** Served so that workloads can declare their budgets; no disruption controller computes the status here. */
export const podDisruptionBudgetDefinition = defineResource({
  group: 'policy',
  version: 'v1',
  kind: 'PodDisruptionBudget',
  shortNames: ['pdb'],
  namespaced: true,
  description: pdbDescription,
  schema: kindSchema(pdbDescription, {
    spec: loose('Specification of the desired behavior of the PodDisruptionBudget.', {
      minAvailable: intOrString(
        'An eviction is allowed if at least "minAvailable" pods selected by "selector" will still be available after the eviction.',
      ),
      maxUnavailable: intOrString(
        'An eviction is allowed if at most "maxUnavailable" pods selected by "selector" are unavailable after the eviction.',
      ),
      selector: loose('Label query over pods whose evictions are managed by the disruption budget.'),
      unhealthyPodEvictionPolicy: str(
        'UnhealthyPodEvictionPolicy defines the criteria for when unhealthy pods should be considered for eviction.',
      ),
    }),
    status: loose('Most recently observed status of the PodDisruptionBudget.', {
      conditions: conditionList('Conditions contain conditions for PDB.'),
    }),
  }),
  printerColumns: [
    { name: 'Min Available', jsonPath: '.spec.minAvailable' },
    { name: 'Max Unavailable', jsonPath: '.spec.maxUnavailable' },
    { name: 'Allowed Disruptions', jsonPath: '.status.disruptionsAllowed', type: 'integer' },
    ageColumn,
  ],
  subresources: { status: true },
});

// ---- admissionregistration.k8s.io/v1 -------------------------------------------------------------

const webhookProps: Record<string, JSONSchema> = {
  name: str('The name of the admission webhook. Name should be fully qualified, e.g., imagepolicy.kubernetes.io.'),
  clientConfig: loose('ClientConfig defines how to communicate with the hook. Required', {
    url: str('`url` gives the location of the webhook, in standard URL form (`scheme://host:port/path`).'),
    service: loose('`service` is a reference to the service for this webhook.', {
      namespace: str('`namespace` is the namespace of the service. Required'),
      name: str('`name` is the name of the service. Required'),
      path: str('`path` is an optional URL path which will be sent in any request to this service.'),
      port: int32(
        'If specified, the port on the service that hosting webhook. Default to 443 for backward compatibility.',
      ),
    }),
    caBundle: {
      type: 'string',
      format: 'byte',
      description:
        "`caBundle` is a PEM encoded CA bundle which will be used to validate the webhook's server certificate.",
    },
  }),
  rules: looseList('Rules describes what operations on what resources/subresources the webhook cares about.'),
  failurePolicy: str(
    'FailurePolicy defines how unrecognized errors from the admission endpoint are handled - allowed values are Ignore or Fail. Defaults to Fail.',
  ),
  matchPolicy: str(
    'matchPolicy defines how the "rules" list is used to match incoming requests. Allowed values are "Exact" or "Equivalent".',
  ),
  namespaceSelector: loose(
    'NamespaceSelector decides whether to run the webhook on an object based on whether the namespace for that object matches the selector.',
  ),
  objectSelector: loose(
    'ObjectSelector decides whether to run the webhook based on if the object has matching labels.',
  ),
  sideEffects: str(
    'SideEffects states whether this webhook has side effects. Acceptable values are: None, NoneOnDryRun.',
  ),
  timeoutSeconds: int32('TimeoutSeconds specifies the timeout for this webhook. Default to 10 seconds.'),
  admissionReviewVersions: strings(
    'AdmissionReviewVersions is an ordered list of preferred `AdmissionReview` versions the Webhook expects.',
  ),
  matchConditions: looseList(
    'MatchConditions is a list of conditions that must be met for a request to be sent to this webhook.',
  ),
};

function webhookConfiguration(
  kind: string,
  description: string,
  extra: Record<string, JSONSchema>,
): ResourceDefinition {
  return defineResource({
    group: 'admissionregistration.k8s.io',
    version: 'v1',
    kind,
    categories: ['api-extensions'],
    namespaced: false,
    description,
    schema: kindSchema(description, {
      webhooks: {
        type: 'array',
        description: 'Webhooks is a list of webhooks and the affected resources and operations.',
        items: loose('', { ...webhookProps, ...extra }),
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['name'],
      },
    }),
    printerColumns: [
      { name: 'Webhooks', jsonPath: '.webhooks', type: 'integer', description: 'The number of webhooks.' },
      ageColumn,
    ],
    subresources: {},
  });
}

export const mutatingWebhookConfigurationDefinition = webhookConfiguration(
  'MutatingWebhookConfiguration',
  'MutatingWebhookConfiguration describes the configuration of and admission webhook that accept or reject and may change the object.',
  {
    reinvocationPolicy: str(
      'reinvocationPolicy indicates whether this webhook should be called multiple times as part of a single admission evaluation. Allowed values are "Never" and "IfNeeded".',
    ),
  },
);

export const validatingWebhookConfigurationDefinition = webhookConfiguration(
  'ValidatingWebhookConfiguration',
  'ValidatingWebhookConfiguration describes the configuration of and admission webhook that accept or reject and object without changing it.',
  {},
);

const matchResources = (description: string): JSONSchema =>
  loose(description, {
    namespaceSelector: loose(
      'NamespaceSelector decides whether to run the admission control policy on an object based on whether the namespace for that object matches the selector.',
    ),
    objectSelector: loose(
      'ObjectSelector decides whether to run the validation based on if the object has matching labels.',
    ),
    resourceRules: looseList(
      'ResourceRules describes what operations on what resources/subresources the policy matches.',
    ),
    excludeResourceRules: looseList(
      'ExcludeResourceRules describes what operations on what resources/subresources the policy should not care about.',
    ),
    matchPolicy: str(
      'matchPolicy defines how the "MatchResources" list is used to match incoming requests. Allowed values are "Exact" or "Equivalent".',
    ),
  });

export const validatingAdmissionPolicyDefinition = defineResource({
  group: 'admissionregistration.k8s.io',
  version: 'v1',
  kind: 'ValidatingAdmissionPolicy',
  plural: 'validatingadmissionpolicies',
  categories: ['api-extensions'],
  namespaced: false,
  description:
    'ValidatingAdmissionPolicy describes the definition of an admission validation policy that accepts or rejects an object without changing it.',
  schema: kindSchema('ValidatingAdmissionPolicy describes an admission validation policy.', {
    spec: loose('Specification of the desired behavior of the ValidatingAdmissionPolicy.', {
      paramKind: loose('ParamKind specifies the kind of resources used to parameterize this policy.', {
        apiVersion: str('APIVersion is the API group version the resources belong to.'),
        kind: str('Kind is the API kind the resources belong to.'),
      }),
      matchConstraints: matchResources(
        'MatchConstraints specifies what resources this policy is designed to validate.',
      ),
      validations: looseList('Validations contain CEL expressions which is used to apply the validation.'),
      failurePolicy: str(
        'failurePolicy defines how to handle failures for the admission policy. Allowed values are Ignore or Fail.',
      ),
      auditAnnotations: looseList(
        'auditAnnotations contains CEL expressions which are used to produce audit annotations.',
      ),
      matchConditions: looseList(
        'MatchConditions is a list of conditions that must be met for a request to be validated.',
      ),
      variables: looseList(
        'Variables contain definitions of variables that can be used in composition of other expressions.',
      ),
    }),
    status: loose('The status of the ValidatingAdmissionPolicy.'),
  }),
  printerColumns: [ageColumn],
  subresources: { status: true },
});

export const validatingAdmissionPolicyBindingDefinition = defineResource({
  group: 'admissionregistration.k8s.io',
  version: 'v1',
  kind: 'ValidatingAdmissionPolicyBinding',
  categories: ['api-extensions'],
  namespaced: false,
  description: 'ValidatingAdmissionPolicyBinding binds the ValidatingAdmissionPolicy with paramerized resources.',
  schema: kindSchema(
    'ValidatingAdmissionPolicyBinding binds a ValidatingAdmissionPolicy to parameters and resources.',
    {
      spec: loose('Specification of the desired behavior of ValidatingAdmissionPolicyBinding.', {
        policyName: str('PolicyName references a ValidatingAdmissionPolicy name which the binding is bound to.'),
        paramRef: loose('paramRef specifies the parameter resource used to configure the admission control policy.', {
          name: str('name is the name of the resource being referenced.'),
          namespace: str('namespace is the namespace of the referenced resource.'),
          selector: loose('selector can be used to match multiple param objects based on their labels.'),
          parameterNotFoundAction: str(
            'parameterNotFoundAction controls the behavior of the binding when the resource exists but no params are found. Allowed values are Allow and Deny.',
          ),
        }),
        matchResources: matchResources(
          'MatchResources declares what resources match this binding and will be validated by it.',
        ),
        validationActions: strings(
          'validationActions declares how Validations of the referenced ValidatingAdmissionPolicy are enforced: Deny, Warn, Audit.',
        ),
      }),
    },
  ),
  printerColumns: [ageColumn],
  subresources: {},
});

// ---- rbac.authorization.k8s.io/v1 --------------------------------------------------------------

const rules = looseList('Rules holds all the PolicyRules for this Role', {
  verbs: strings(
    "Verbs is a list of Verbs that apply to ALL the ResourceKinds contained in this rule. '*' represents all verbs.",
  ),
  apiGroups: strings('APIGroups is the name of the APIGroup that contains the resources.'),
  resources: strings("Resources is a list of resources this rule applies to. '*' represents all resources."),
  resourceNames: strings('ResourceNames is an optional white list of names that the rule applies to.'),
  nonResourceURLs: strings('NonResourceURLs is a set of partial urls that a user should have access to.'),
});

const bindingSchema = (description: string): JSONSchema =>
  kindSchema(description, {
    subjects: looseList('Subjects holds references to the objects the role applies to.', {
      kind: str(
        'Kind of object being referenced. Values defined by this API group are "User", "Group", and "ServiceAccount".',
      ),
      apiGroup: str('APIGroup holds the API group of the referenced subject.'),
      name: str('Name of the object being referenced.'),
      namespace: str('Namespace of the referenced object.'),
    }),
    roleRef: loose(
      "RoleRef can only reference a ClusterRole in the global namespace (or a Role in the binding's namespace). If the RoleRef cannot be resolved, the Authorizer must return an error. This field is immutable.",
      {
        apiGroup: str('APIGroup is the group for the resource being referenced'),
        kind: str('Kind is the type of resource being referenced'),
        name: str('Name is the name of resource being referenced'),
      },
    ),
  });

function rbac(
  kind: string,
  namespaced: boolean,
  description: string,
  schema: JSONSchema,
  printerColumns: ResourceDefinition['printerColumns'],
): ResourceDefinition {
  return defineResource({
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    kind,
    namespaced,
    description,
    schema,
    printerColumns,
    subresources: {},
  });
}

const createdAt = [{ name: 'Created At', jsonPath: '.metadata.creationTimestamp', type: 'string' as const }];

export const roleDefinition = rbac(
  'Role',
  true,
  'Role is a namespaced, logical grouping of PolicyRules that can be referenced as a unit by a RoleBinding.',
  kindSchema(
    'Role is a namespaced, logical grouping of PolicyRules that can be referenced as a unit by a RoleBinding.',
    { rules },
  ),
  createdAt,
);

export const clusterRoleDefinition = rbac(
  'ClusterRole',
  false,
  'ClusterRole is a cluster level, logical grouping of PolicyRules that can be referenced as a unit by a RoleBinding or ClusterRoleBinding.',
  kindSchema(
    'ClusterRole is a cluster level, logical grouping of PolicyRules that can be referenced as a unit by a RoleBinding or ClusterRoleBinding.',
    {
      rules,
      aggregationRule: loose(
        'AggregationRule is an optional field that describes how to build the Rules for this ClusterRole.',
        {
          clusterRoleSelectors: looseList(
            'ClusterRoleSelectors holds a list of selectors which will be used to find ClusterRoles and create the rules.',
          ),
        },
      ),
    },
  ),
  createdAt,
);

const bindingColumns = [
  { name: 'Role', jsonPath: '.roleRef.name' },
  ageColumn,
  { name: 'Users', jsonPath: '.subjects[?(@.kind=="User")].name', type: 'string' as const, priority: 1 },
  { name: 'Groups', jsonPath: '.subjects[?(@.kind=="Group")].name', type: 'string' as const, priority: 1 },
  {
    name: 'ServiceAccounts',
    jsonPath: '.subjects[?(@.kind=="ServiceAccount")].name',
    type: 'string' as const,
    priority: 1,
  },
];

export const roleBindingDefinition = rbac(
  'RoleBinding',
  true,
  'RoleBinding references a role, but does not contain it.  It can reference a Role in the same namespace or a ClusterRole in the global namespace. It adds who information via Subjects and namespace information by which namespace it exists in.  RoleBindings in a given namespace only have effect in that namespace.',
  bindingSchema(
    'RoleBinding references a role, but does not contain it.  It can reference a Role in the same namespace or a ClusterRole in the global namespace. It adds who information via Subjects and namespace information by which namespace it exists in.  RoleBindings in a given namespace only have effect in that namespace.',
  ),
  bindingColumns,
);

export const clusterRoleBindingDefinition = rbac(
  'ClusterRoleBinding',
  false,
  'ClusterRoleBinding references a ClusterRole, but not contain it.  It can reference a ClusterRole in the global namespace, and adds who information via Subject.',
  bindingSchema(
    'ClusterRoleBinding references a ClusterRole, but not contain it.  It can reference a ClusterRole in the global namespace, and adds who information via Subject.',
  ),
  bindingColumns,
);

// ---- apiregistration.k8s.io/v1 ------------------------------------------------------------------

export const apiServiceDefinition = defineResource({
  group: 'apiregistration.k8s.io',
  version: 'v1',
  kind: 'APIService',
  categories: ['api-extensions'],
  namespaced: false,
  description: 'APIService represents a server for a particular GroupVersion. Name must be "version.group".',
  schema: kindSchema('APIService represents a server for a particular GroupVersion. Name must be "version.group".', {
    spec: loose('Spec contains information for locating and communicating with a server', {
      service: loose(
        'Service is a reference to the service for this API server.  It must communicate on port 443. If the Service is nil, that means the handling for the API groupversion is handled locally on this server.',
        {
          namespace: str('Namespace is the namespace of the service'),
          name: str('Name is the name of the service'),
          port: int32(
            'If specified, the port on the service that hosting webhook. Default to 443 for backward compatibility.',
          ),
        },
      ),
      group: str('Group is the API group name this server hosts'),
      version: str('Version is the API version this server hosts.  For example, "v1"'),
      insecureSkipTLSVerify: bool(
        'InsecureSkipTLSVerify disables TLS certificate verification when communicating with this server.',
      ),
      caBundle: {
        type: 'string',
        format: 'byte',
        description:
          "CABundle is a PEM encoded CA bundle which will be used to validate an API server's serving certificate.",
      },
      groupPriorityMinimum: int32('GroupPriorityMinimum is the priority this group should have at least.'),
      versionPriority: int32('VersionPriority controls the ordering of this API version inside of its group.'),
    }),
    status: loose('Status contains derived information about an API server', {
      conditions: conditionList('Current service state of apiService.'),
    }),
  }),
  printerColumns: [
    { name: 'Service', jsonPath: '.spec.service.name' },
    { name: 'Available', jsonPath: '.status.conditions[?(@.type=="Available")].status', type: 'string' },
    ageColumn,
  ],
  subresources: { status: true },
});

// ---- apiextensions.k8s.io/v1 --------------------------------------------------------------------

/**
 * CustomResourceDefinitions are listed, always empty: the control plane serves no custom
 * resources, but clients look for them (kubectl's schema validation lists CRDs to tell an unknown
 * kind from a custom one) as on any cluster. Creating one is not allowed (405).
 */
export const customResourceDefinitionDefinition = defineResource({
  group: 'apiextensions.k8s.io',
  version: 'v1',
  kind: 'CustomResourceDefinition',
  shortNames: ['crd', 'crds'],
  categories: ['api-extensions'],
  namespaced: false,
  description:
    'CustomResourceDefinition represents a resource that should be exposed on the API server.  Its name MUST be in the format <.spec.name>.<.spec.group>.',
  schema: kindSchema(
    'CustomResourceDefinition represents a resource that should be exposed on the API server.  Its name MUST be in the format <.spec.name>.<.spec.group>.',
    {
      spec: loose('spec describes how the user wants the resources to appear'),
      status: loose('status indicates the actual state of the CustomResourceDefinition'),
    },
  ),
  printerColumns: [{ name: 'Created At', jsonPath: '.metadata.creationTimestamp', type: 'date' }],
  subresources: { status: true },
  verbs: ['get', 'list', 'watch'],
});
