// The upstream (k8s.io/apimachinery and k8s.io/api/autoscaling) definitions our OpenAPI documents
// reference, under their upstream names so clients and the aggregator recognise them.
//
// Schemas here are written in a neutral form shared by the v2 and v3 writers: a `$ref` holds the
// bare definition name (`io.k8s.apimachinery.pkg.apis.meta.v1.Time`), and a `$ref` may carry
// sibling keys (`description`). The v3 writer turns such a node into `allOf: [{$ref}]` plus the
// siblings and prefixes `#/components/schemas/`; the v2 writer keeps the siblings next to the
// `$ref` and prefixes `#/definitions/` (both as kube-openapi publishes them).

/** A schema node in the neutral form described above. Extension keys (`x-…`) are allowed. */
export interface SchemaObject {
  type?: string;
  format?: string;
  description?: string;
  $ref?: string;
  properties?: Record<string, SchemaObject>;
  additionalProperties?: SchemaObject | boolean;
  items?: SchemaObject;
  required?: string[];
  allOf?: SchemaObject[];
  anyOf?: SchemaObject[];
  oneOf?: SchemaObject[];
  not?: SchemaObject;
  [key: string]: unknown;
}

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export const META_V1 = 'io.k8s.apimachinery.pkg.apis.meta.v1';
export const OBJECT_META = `${META_V1}.ObjectMeta`;
export const OWNER_REFERENCE = `${META_V1}.OwnerReference`;
export const MANAGED_FIELDS_ENTRY = `${META_V1}.ManagedFieldsEntry`;
export const FIELDS_V1 = `${META_V1}.FieldsV1`;
export const TIME = `${META_V1}.Time`;
export const LIST_META = `${META_V1}.ListMeta`;
export const STATUS = `${META_V1}.Status`;
export const STATUS_DETAILS = `${META_V1}.StatusDetails`;
export const STATUS_CAUSE = `${META_V1}.StatusCause`;
export const DELETE_OPTIONS = `${META_V1}.DeleteOptions`;
export const PRECONDITIONS = `${META_V1}.Preconditions`;
export const PATCH = `${META_V1}.Patch`;
export const WATCH_EVENT = `${META_V1}.WatchEvent`;
export const RAW_EXTENSION = 'io.k8s.apimachinery.pkg.runtime.RawExtension';
export const SCALE = 'io.k8s.api.autoscaling.v1.Scale';
export const SCALE_SPEC = 'io.k8s.api.autoscaling.v1.ScaleSpec';
export const SCALE_STATUS = 'io.k8s.api.autoscaling.v1.ScaleStatus';

export const SCALE_GVK: GroupVersionKind = { group: 'autoscaling', version: 'v1', kind: 'Scale' };

const CONVENTIONS = 'https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md';

/** The description kube publishes for `apiVersion` on every kind. */
export const API_VERSION_DESCRIPTION =
  'APIVersion defines the versioned schema of this representation of an object. Servers should convert ' +
  'recognized schemas to the latest internal value, and may reject unrecognized values. ' +
  `More info: ${CONVENTIONS}#resources`;

/** The description kube publishes for `kind` on every kind. */
export const KIND_DESCRIPTION =
  'Kind is a string value representing the REST resource this object represents. Servers may infer this ' +
  'from the endpoint the client submits requests to. Cannot be updated. In CamelCase. ' +
  `More info: ${CONVENTIONS}#types-kinds`;

export const OBJECT_METADATA_DESCRIPTION = `Standard object's metadata. More info: ${CONVENTIONS}#metadata`;
export const LIST_METADATA_DESCRIPTION = `Standard list metadata. More info: ${CONVENTIONS}#types-kinds`;

function ref(name: string, description?: string): SchemaObject {
  return description === undefined ? { $ref: name } : { $ref: name, description };
}

function str(description: string, extra: Partial<SchemaObject> = {}): SchemaObject {
  return { description, type: 'string', ...extra };
}

function int(description: string, format: 'int32' | 'int64'): SchemaObject {
  return { description, type: 'integer', format };
}

function bool(description: string): SchemaObject {
  return { description, type: 'boolean' };
}

const typeMeta = (): Record<string, SchemaObject> => ({
  apiVersion: str(API_VERSION_DESCRIPTION),
  kind: str(KIND_DESCRIPTION),
});

/** The meta definitions, without `x-kubernetes-group-version-kind` (see `metaDefinition`). */
const META: Record<string, SchemaObject> = {
  [OBJECT_META]: {
    description:
      'ObjectMeta is the metadata every persisted resource carries: its identity (name, namespace, uid), ' +
      'its version for concurrency control, and the labels, annotations, owners and finalizers that ' +
      'users and controllers attach to it.',
    type: 'object',
    properties: {
      name: str(
        'Name identifies the object within its namespace (or within the cluster for cluster-scoped ' +
          'resources) and is part of its URL. It is required on create unless generateName is used, and ' +
          'cannot be changed afterwards. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names',
      ),
      generateName: str(
        'GenerateName asks the server to make up a unique name when name is empty: the server appends a ' +
          'random suffix to this prefix, truncating the prefix if needed. A collision with an existing ' +
          'object fails the request with 409 (reason AlreadyExists) and the client may retry. Ignored ' +
          `when name is set. More info: ${CONVENTIONS}#idempotency`,
      ),
      namespace: str(
        'Namespace is the scope in which the name is unique. For namespaced resources an empty value ' +
          'means the namespace of the request ("default" when none is given); cluster-scoped resources ' +
          'leave it empty. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces',
      ),
      uid: str(
        'UID is the identifier the server assigns when the object is created. It is unique across time: ' +
          'an object deleted and re-created under the same name gets a new UID. Set by the system; ' +
          'read-only. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#uids',
      ),
      resourceVersion: str(
        'ResourceVersion is an opaque token that changes on every modification of the object. Clients ' +
          'pass it back unchanged for optimistic concurrency (an update carrying a stale value fails ' +
          'with 409 Conflict) and use it to resume lists and watches; they must not compare or parse it. ' +
          `Set by the system; read-only. More info: ${CONVENTIONS}#concurrency-control-and-consistency`,
      ),
      generation: int(
        'Generation counts changes to the desired state: the server increments it whenever the spec ' +
          'changes (not for status or metadata-only writes). Controllers report the generation they ' +
          'acted on in status.observedGeneration. Set by the system; read-only.',
        'int64',
      ),
      creationTimestamp: ref(
        TIME,
        'CreationTimestamp is the server time, in RFC 3339 form and UTC, at which the object was ' +
          `created. Clients cannot set it. Set by the system; read-only. More info: ${CONVENTIONS}#metadata`,
      ),
      deletionTimestamp: ref(
        TIME,
        'DeletionTimestamp is set by the server when deletion of the object has been requested but ' +
          'cannot complete yet, because finalizers remain or a grace period is running. From then on ' +
          'the object can no longer be un-deleted; it disappears once its finalizers are empty and the ' +
          'grace period has passed. The time is the earliest moment of removal, not a guarantee. ' +
          `Clients cannot set it. Set by the system; read-only. More info: ${CONVENTIONS}#metadata`,
      ),
      deletionGracePeriodSeconds: int(
        'DeletionGracePeriodSeconds is the number of seconds the object is given to terminate ' +
          'gracefully before it is removed. Present only together with deletionTimestamp; it can ' +
          'only be shortened. Set by the system; read-only.',
        'int64',
      ),
      labels: {
        description:
          'Labels are string keys and values used to organise objects and to select them with label ' +
          'selectors (kubectl -l, controllers, services). ' +
          'More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels',
        type: 'object',
        additionalProperties: { type: 'string', default: '' },
      },
      annotations: {
        description:
          'Annotations are string keys and values where tools and controllers keep arbitrary, ' +
          'non-identifying metadata about the object. They cannot be used in selectors. ' +
          'More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/annotations',
        type: 'object',
        additionalProperties: { type: 'string', default: '' },
      },
      ownerReferences: {
        description:
          'OwnerReferences lists the objects this object belongs to. When all of its owners are gone the ' +
          'garbage collector deletes the object. At most one entry may be marked as the managing ' +
          'controller (controller=true).',
        type: 'array',
        items: ref(OWNER_REFERENCE),
        'x-kubernetes-list-map-keys': ['uid'],
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-patch-merge-key': 'uid',
        'x-kubernetes-patch-strategy': 'merge',
      },
      finalizers: {
        description:
          'Finalizers name the components that still have cleanup to do before the object may be ' +
          'removed. Deleting an object that has finalizers only sets deletionTimestamp; each component ' +
          'removes its own entry when done, and the object is removed once the list is empty. Entries ' +
          'are processed in no particular order and are unique.',
        type: 'array',
        items: { type: 'string', default: '' },
        'x-kubernetes-list-type': 'set',
        'x-kubernetes-patch-strategy': 'merge',
      },
      managedFields: {
        description:
          'ManagedFields records, for each field manager (a client, controller or apply workflow such ' +
          'as "kubectl"), which fields of the object it owns, and through which operation and API ' +
          'version. Server-side apply uses it to detect conflicts. Mostly internal bookkeeping: users ' +
          'rarely need to set or read it.',
        type: 'array',
        items: ref(MANAGED_FIELDS_ENTRY),
        'x-kubernetes-list-type': 'atomic',
      },
    },
  },

  [OWNER_REFERENCE]: {
    description:
      'OwnerReference identifies an owner of an object: enough to find it (API version, kind, name) and ' +
      'to make sure it is the same object (uid). The owner must live in the same namespace as the ' +
      'dependent, or be cluster-scoped.',
    type: 'object',
    required: ['apiVersion', 'kind', 'name', 'uid'],
    properties: {
      apiVersion: str('API version of the owner.'),
      kind: str(`Kind of the owner. More info: ${CONVENTIONS}#types-kinds`),
      name: str(
        'Name of the owner. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names',
      ),
      uid: str(
        'UID of the owner. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#uids',
      ),
      controller: bool('If true, this owner is the controller that manages the object.'),
      blockOwnerDeletion: bool(
        'If true, and the owner has the "foregroundDeletion" finalizer, the owner cannot be removed from ' +
          'the store until this object has been deleted. Setting it requires delete permission on the ' +
          'owner. Defaults to false.',
      ),
    },
    'x-kubernetes-map-type': 'atomic',
  },

  [MANAGED_FIELDS_ENTRY]: {
    description:
      'ManagedFieldsEntry holds the set of fields one field manager owns in an object, together with the ' +
      'operation and API version it used.',
    type: 'object',
    properties: {
      apiVersion: str(
        'APIVersion of the object as the manager wrote it; the field set is interpreted in this version.',
      ),
      fieldsType: str('FieldsType is the format of the field set. The only value is "FieldsV1".'),
      fieldsV1: ref(FIELDS_V1, 'FieldsV1 holds the field set when fieldsType is "FieldsV1".'),
      manager: str('Manager is the name of the workflow (field manager) owning these fields.'),
      operation: str('Operation is the kind of write that produced this entry: "Apply" or "Update".'),
      subresource: str(
        'Subresource is the subresource written to (for example "status" or "scale"), or empty for the ' +
          'main resource. Entries for different subresources are tracked separately even for the same manager.',
      ),
      time: ref(TIME, 'Time is the timestamp of the last change this manager made to its fields.'),
    },
  },

  [FIELDS_V1]: {
    description:
      'FieldsV1 is a set of fields encoded as a JSON tree. Each key is "f:<field name>" for a field of a ' +
      'struct or map, "k:<JSON object of key values>" for an item of a keyed list, "v:<JSON value>" for an ' +
      'item of a set, "i:<index>" for a list position, and "." for the node itself; values are empty objects.',
    type: 'object',
  },

  [TIME]: {
    description:
      'Time is a timestamp serialized as an RFC 3339 string in UTC with second precision, e.g. "2024-01-31T12:00:00Z".',
    type: 'string',
    format: 'date-time',
  },

  [LIST_META]: {
    description: 'ListMeta describes a list returned by the server: its version and how to fetch the next page.',
    type: 'object',
    properties: {
      continue: str(
        'Continue is set when the list was cut short because a limit was given. Pass it as the continue ' +
          'parameter of the same list request to get the next page. It expires after a few minutes; an ' +
          'expired token fails with 410 Gone and the list has to start again.',
      ),
      remainingItemCount: int(
        'RemainingItemCount is the number of items left after this page. It is an estimate when the ' +
          'list was filtered by a field or label selector, and absent when unknown.',
        'int64',
      ),
      resourceVersion: str(
        'ResourceVersion is the version of the store the list was read at. Use it to start a watch right ' +
          `after this list. Clients must treat it as opaque. More info: ${CONVENTIONS}#concurrency-control-and-consistency`,
      ),
    },
  },

  [STATUS]: {
    description: 'Status is the result of an API call that does not return an object, and the body of every error.',
    type: 'object',
    properties: {
      ...typeMeta(),
      code: int('Suggested HTTP status code of the response; 0 when not set.', 'int32'),
      details: ref(
        STATUS_DETAILS,
        'Extended data about the failure, depending on reason. Clients must not assume it is present ' +
          'or has a particular shape.',
      ),
      message: str('A human-readable description of the outcome.'),
      metadata: ref(LIST_META, LIST_METADATA_DESCRIPTION),
      reason: str(
        'A machine-readable, CamelCase reason for a failure, such as NotFound, AlreadyExists, Conflict, ' +
          'Invalid or Forbidden. Empty when no reason is known. It refines the HTTP status code and never contradicts it.',
      ),
      status: str(`Status of the operation: "Success" or "Failure". More info: ${CONVENTIONS}#spec-and-status`),
    },
  },

  [STATUS_DETAILS]: {
    description:
      'StatusDetails identifies the object a failed call was about and lists the individual causes. ' +
      'Which fields are set depends on the reason of the Status.',
    type: 'object',
    properties: {
      causes: {
        description: 'The individual problems behind the failure, e.g. one entry per invalid field.',
        type: 'array',
        items: ref(STATUS_CAUSE),
        'x-kubernetes-list-type': 'atomic',
      },
      group: str('The API group of the resource the status is about.'),
      kind: str(`The kind of the resource the status is about. More info: ${CONVENTIONS}#types-kinds`),
      name: str('The name of the object the status is about, when there is a single one.'),
      retryAfterSeconds: int(
        'If set, the number of seconds the client should wait before retrying the operation.',
        'int32',
      ),
      uid: str(
        'The UID of the object the status is about, when known. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#uids',
      ),
    },
  },

  [STATUS_CAUSE]: {
    description: 'StatusCause describes one cause of a failed call, often a single invalid field.',
    type: 'object',
    properties: {
      field: str(
        'The path of the field that caused the problem, in JSON-path-like dotted notation with list ' +
          'indices in brackets, e.g. "spec.units[0].name". Empty when the cause is not a single field.',
      ),
      message: str('A human-readable explanation of this cause.'),
      reason: str('A machine-readable description of this cause, e.g. FieldValueInvalid or FieldValueRequired.'),
    },
  },

  [DELETE_OPTIONS]: {
    description: 'DeleteOptions may be sent in the body of a DELETE request to control how the deletion happens.',
    type: 'object',
    properties: {
      ...typeMeta(),
      dryRun: {
        description:
          'When present, the request is validated and processed but nothing is persisted. The only ' +
          'value is "All"; unknown values fail the request.',
        type: 'array',
        items: { type: 'string', default: '' },
        'x-kubernetes-list-type': 'atomic',
      },
      gracePeriodSeconds: int(
        'Seconds to wait before the object is removed; must be zero or positive. Zero means delete ' +
          'immediately; when unset the default grace period of the kind applies.',
        'int64',
      ),
      ignoreStoreReadErrorWithClusterBreakingPotential: bool(
        'If true, an object that cannot be read from storage (for example because it can no longer be ' +
          'decoded) is removed anyway, skipping finalizers and admission. Dangerous; requires explicit ' +
          'permission and is meant for recovering a broken cluster only.',
      ),
      orphanDependents: bool(
        'Deprecated: use propagationPolicy. If true, dependents are orphaned (the "orphan" finalizer is ' +
          'added); if false, dependents are deleted in the background. Do not set both fields.',
      ),
      preconditions: ref(
        PRECONDITIONS,
        'Conditions the object must meet for the deletion to go ahead; otherwise the request fails with 409 Conflict.',
      ),
      propagationPolicy: str(
        'What happens to dependents (objects that list this one in their ownerReferences): "Orphan" ' +
          'leaves them in place, "Background" deletes them after this object is gone, and "Foreground" ' +
          'keeps this object (with the "foregroundDeletion" finalizer) until all dependents that block ' +
          'owner deletion are deleted. The default depends on the kind.',
      ),
    },
  },

  [PRECONDITIONS]: {
    description: 'Preconditions must be met for an operation (a delete, typically) to go ahead.',
    type: 'object',
    properties: {
      resourceVersion: str('The object must currently have this resourceVersion.'),
      uid: str('The object must have this UID.'),
    },
  },

  [PATCH]: {
    description:
      'Patch is the body of a PATCH request. Its format depends on the Content-Type: a JSON Patch ' +
      '(application/json-patch+json), a JSON Merge Patch (application/merge-patch+json) or a ' +
      'server-side apply configuration (application/apply-patch+yaml).',
    type: 'object',
  },

  [WATCH_EVENT]: {
    description: 'WatchEvent is one event of a watch stream: a change to one object.',
    type: 'object',
    required: ['type', 'object'],
    properties: {
      object: ref(
        RAW_EXTENSION,
        'Object is the new state of the object for ADDED and MODIFIED events, its last state for DELETED ' +
          'events, a Status for ERROR events, and an object carrying only metadata.resourceVersion (and ' +
          'possibly annotations) for BOOKMARK events.',
      ),
      type: str('The type of change: ADDED, MODIFIED, DELETED, BOOKMARK or ERROR.', { default: '' }),
    },
  },

  [RAW_EXTENSION]: {
    description:
      'RawExtension holds an embedded object in its serialized (JSON) form, with its own apiVersion and kind.',
    type: 'object',
  },

  [SCALE]: {
    description:
      'Scale represents the scaling request and state of a scalable resource: how many replicas it should have and has.',
    type: 'object',
    properties: {
      ...typeMeta(),
      metadata: ref(
        OBJECT_META,
        `${OBJECT_METADATA_DESCRIPTION} The name, namespace, uid and resourceVersion are those of the scaled object.`,
      ),
      spec: ref(SCALE_SPEC, `The desired scale. More info: ${CONVENTIONS}#spec-and-status`),
      status: ref(SCALE_STATUS, `The currently observed scale; read-only. More info: ${CONVENTIONS}#spec-and-status`),
    },
  },

  [SCALE_SPEC]: {
    description: 'ScaleSpec is the desired scale of a scalable resource.',
    type: 'object',
    properties: {
      replicas: int('The desired number of replicas (instances) of the scaled object.', 'int32'),
    },
  },

  [SCALE_STATUS]: {
    description: 'ScaleStatus is the observed scale of a scalable resource.',
    type: 'object',
    required: ['replicas'],
    properties: {
      replicas: { ...int('The number of replicas (instances) of the scaled object observed.', 'int32'), default: 0 },
      selector: str(
        'The label selector, in string form (e.g. "app=db,tier in (a,b)"), matching the pods counted in ' +
          'replicas. Required by the HorizontalPodAutoscaler. ' +
          'More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels#label-selectors',
      ),
    },
  },
};

/** The GVKs upstream registers each meta kind under. DeleteOptions and WatchEvent are added to
 * every group-version (as apimachinery's `AddToGroupVersion` does), so `served` is appended. */
function metaGVKs(name: string, served: GroupVersionKind[]): GroupVersionKind[] | undefined {
  const inEvery = (kind: string): GroupVersionKind[] => {
    const out: GroupVersionKind[] = [{ group: '', version: 'v1', kind }];
    for (const gv of served) {
      if (!out.some((g) => g.group === gv.group && g.version === gv.version))
        out.push({ group: gv.group, version: gv.version, kind });
    }
    return out;
  };
  switch (name) {
    case STATUS:
      return [{ group: '', version: 'v1', kind: 'Status' }];
    case DELETE_OPTIONS:
      return inEvery('DeleteOptions');
    case WATCH_EVENT:
      return inEvery('WatchEvent');
    case SCALE:
      return [SCALE_GVK];
    default:
      return undefined;
  }
}

/** Names of all meta definitions this module provides. */
export function metaDefinitionNames(): string[] {
  return Object.keys(META).sort();
}

export function isMetaDefinition(name: string): boolean {
  return Object.prototype.hasOwnProperty.call(META, name);
}

/** A deep copy of one meta definition, with `x-kubernetes-group-version-kind` for the kinds that
 * have one. `servedGroupVersions` are the group-versions the document describes (their `kind` is
 * ignored). */
export function metaDefinition(name: string, servedGroupVersions: GroupVersionKind[] = []): SchemaObject {
  const base = META[name];
  if (!base) throw new Error(`unknown meta definition ${name}`);
  const copy = structuredClone(base) as SchemaObject;
  const gvks = metaGVKs(name, servedGroupVersions);
  if (gvks) copy['x-kubernetes-group-version-kind'] = gvks;
  return copy;
}
