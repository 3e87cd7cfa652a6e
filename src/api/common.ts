// Schema pieces shared by the upm.io kinds, written once. Everything here builds plain structural
// OpenAPI v3 schema objects (the CRD subset declared in registry/definition.ts).
//
// Shared object shapes are *named* (`named('Condition', …)`): the name lives in a side table keyed
// by the schema object, never in the schema itself, so the published OpenAPI is untouched while
// typegen.ts can emit one `Condition` interface instead of one copy per kind. `withDescription()`
// gives a shared shape a field-specific description and keeps its name.

import {
  defineResource,
  type JSONSchema,
  type PrinterColumn,
  type ResourceDefinition,
} from '../machinery/definition.js';
import {
  dateTime,
  dnsLabel,
  dnsSubdomain,
  enumStr,
  freeForm,
  int64,
  listAtomic,
  listMap,
  map,
  object,
  quantity,
  str,
  stringMap,
} from '../machinery/schema.js';

/** API group of the upm.io kinds. */
export const upmGroup = 'upm.io';
/** API version of the upm.io kinds. */
export const upmVersion = 'v1alpha1';

// ---------------------------------------------------------------------------------------------
// Type names for typegen

interface TypeNameEntry {
  name: string;
  /** Description of the type itself (the JSDoc of the generated interface). */
  doc: string | undefined;
}

const typeNames = new WeakMap<JSONSchema, TypeNameEntry>();

/** Registers `schema` as the shape of the TypeScript type `name` and returns it unchanged. */
export function named<T extends JSONSchema>(name: string, schema: T): T {
  typeNames.set(schema, { name, doc: schema.description });
  return schema;
}

/** The registered type name of a schema node (see `named`), if any. */
export function schemaTypeName(schema: JSONSchema): { name: string; doc: string | undefined } | undefined {
  return typeNames.get(schema);
}

/** A copy of a (possibly named) schema with a field-specific description and extra keywords. */
export function withDescription(schema: JSONSchema, description: string, extra: JSONSchema = {}): JSONSchema {
  const copy: JSONSchema = { ...schema, ...extra, description };
  const entry = typeNames.get(schema);
  if (entry) typeNames.set(copy, entry);
  return copy;
}

// ---------------------------------------------------------------------------------------------
// Patterns

/** A key of a Secret or ConfigMap. */
export const CONFIG_KEY = '^[-._a-zA-Z0-9]+$';
/** A host name (RFC 1123, upper case allowed), an IPv4 address or an IPv6 address. */
export const HOST =
  '^(([A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)(\\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*\\.?|[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*)$';
/** An absolute path. */
export const ABSOLUTE_PATH = '^/.*$';
/** A C-identifier-like environment variable name. */
export const ENV_NAME = '^[-._a-zA-Z][-._a-zA-Z0-9]*$';

// ---------------------------------------------------------------------------------------------
// Common fields

export function observedGeneration(what = 'the object'): JSONSchema {
  return int64(
    `The metadata.generation of ${what} that the controller last acted on. Status fields describe that generation; when it ` +
      'is lower than metadata.generation, the controller has not yet seen the latest spec.',
    { minimum: 0 },
  );
}

/** metav1.Condition. */
export const conditionSchema = named(
  'Condition',
  object(
    'One aspect of the current state of an object, in the shape of metav1.Condition.',
    {
      type: str(
        'Type of the condition, in CamelCase (for example Ready). Each type appears at most once in the list.',
        {
          pattern:
            '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$',
          maxLength: 316,
        },
      ),
      status: enumStr('Status of the condition: True, False or Unknown.', ['True', 'False', 'Unknown']),
      observedGeneration: int64(
        'The metadata.generation the condition was computed from. A condition older than the current generation may be stale.',
        { minimum: 0 },
      ),
      lastTransitionTime: dateTime('When the condition last changed from one status to another.'),
      reason: str(
        'A programmatic identifier in CamelCase giving the reason for the last transition. Consumers may switch on it; ' +
          'its values are part of the API.',
        { pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$', minLength: 1, maxLength: 1024 },
      ),
      message: str('A human-readable explanation of the transition. May be empty.', { maxLength: 32768 }),
    },
    { required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'] },
  ),
);

/** The conditions list of a status; `types` documents the condition types the controller writes. */
export function conditions(types: Record<string, string>): JSONSchema {
  const list = Object.entries(types)
    .map(([type, meaning]) => `${type}: ${meaning}`)
    .join(' ');
  return listMap(`Latest observations of the object's state. Condition types: ${list}`, ['type'], conditionSchema, {
    maxItems: 32,
  });
}

export const localObjectReferenceSchema = named(
  'LocalObjectReference',
  object(
    'A reference to an object by name in the same namespace.',
    { name: dnsSubdomain('Name of the referenced object.') },
    { required: ['name'], 'x-kubernetes-map-type': 'atomic' },
  ),
);

export function localObjectReference(description: string): JSONSchema {
  return withDescription(localObjectReferenceSchema, description);
}

/** A key of a Secret in the same namespace (core/v1 SecretKeySelector without `optional`). */
export const secretKeySelectorSchema = named(
  'SecretKeySelector',
  object(
    'Selects one key of a Secret in the same namespace as the object that refers to it.',
    {
      name: dnsSubdomain('Name of the Secret.'),
      key: str('The key of the Secret whose value is used.', { pattern: CONFIG_KEY, maxLength: 253 }),
    },
    { required: ['name', 'key'], 'x-kubernetes-map-type': 'atomic' },
  ),
);

export function secretKeySelector(description: string): JSONSchema {
  return withDescription(secretKeySelectorSchema, description);
}

/**
 * Credentials of one database account, read from a Secret: the user name and the password are
 * separate keys, so the user name is never inferred from a key name and no key material travels
 * in a custom resource.
 */
export const credentialsSecretSchema = named(
  'CredentialsSecretReference',
  object(
    'A Secret in the same namespace holding the user name and the password of one database account, for example a Secret ' +
      'of type kubernetes.io/basic-auth. Values are read as stored (no encryption layer besides the one of the Kubernetes ' +
      'Secret store); changes to the Secret are picked up on the next reconcile.',
    {
      name: dnsSubdomain('Name of the Secret.'),
      usernameKey: str(
        'Key of the Secret holding the user name. When the Secret has no such key, the engine default account is used ' +
          '(root for MySQL, the default user for Redis).',
        { pattern: CONFIG_KEY, maxLength: 253, default: 'username' },
      ),
      passwordKey: str('Key of the Secret holding the password.', {
        pattern: CONFIG_KEY,
        maxLength: 253,
        default: 'password',
      }),
    },
    { required: ['name'] },
  ),
);

export function credentialsSecret(description: string, extra: JSONSchema = {}): JSONSchema {
  return withDescription(credentialsSecretSchema, description, extra);
}

const labelSelectorRequirementSchema = named(
  'LabelSelectorRequirement',
  object(
    'A label key, an operator and values that a label set must satisfy.',
    {
      key: str('The label key the requirement applies to.', { minLength: 1, maxLength: 317 }),
      operator: enumStr('How the key relates to the values.', ['In', 'NotIn', 'Exists', 'DoesNotExist']),
      values: listAtomic(
        'Values for In and NotIn (must be non-empty); must be empty for Exists and DoesNotExist.',
        { type: 'string', maxLength: 63 },
        { maxItems: 256 },
      ),
    },
    { required: ['key', 'operator'] },
  ),
);

/** metav1.LabelSelector. */
export const labelSelectorSchema = named(
  'LabelSelector',
  object(
    'A label query over a set of objects. The requirements of matchLabels and matchExpressions are ANDed; an empty ' +
      'selector matches every object, a missing one matches none.',
    {
      matchLabels: stringMap('Labels that must be present with exactly these values.'),
      matchExpressions: listAtomic('Requirements on labels.', labelSelectorRequirementSchema, { maxItems: 64 }),
    },
    { 'x-kubernetes-map-type': 'atomic' },
  ),
);

export function labelSelector(description: string): JSONSchema {
  return withDescription(labelSelectorSchema, description);
}

/** core/v1 ResourceRequirements (limits and requests; dynamic resource claims are not offered). */
export const resourceRequirementsSchema = named(
  'ResourceRequirements',
  object('Compute resources of a container.', {
    limits: map(
      'Maximum amount of each resource the container may use, keyed by resource name (cpu, memory, hugepages-2Mi, ...).',
      quantity('A resource quantity.'),
    ),
    requests: map(
      'Amount of each resource the scheduler reserves for the container, keyed by resource name. A request missing for a ' +
        'resource that has a limit defaults to the limit.',
      quantity('A resource quantity.'),
    ),
  }),
);

export function resourceRequirements(description: string): JSONSchema {
  return withDescription(resourceRequirementsSchema, description);
}

/** A core/v1 Container, kept as sent apart from its name (the list key). */
export const containerSchema = named(
  'Container',
  freeForm(
    'A container in the shape of a core/v1 Container (name, image, command, env, ports, probes, resources, volumeMounts, ' +
      '...). Only the name is checked here; the rest is validated when the Pod is created.',
    {
      properties: { name: dnsLabel('Name of the container, unique within the Pod.') },
      required: ['name'],
    },
  ),
);

export function containers(description: string, extra: JSONSchema = {}): JSONSchema {
  return listMap(description, ['name'], containerSchema, { maxItems: 64, ...extra });
}

/** A core/v1 Volume, kept as sent apart from its name (the list key). */
export const volumeSchema = named(
  'Volume',
  freeForm(
    'A volume in the shape of a core/v1 Volume: a name plus exactly one volume source (configMap, secret, emptyDir, ' +
      'persistentVolumeClaim, projected, ...).',
    {
      properties: { name: dnsLabel('Name of the volume, unique within the Pod; containers mount it by this name.') },
      required: ['name'],
    },
  ),
);

/** core/v1 EnvVar; valueFrom is kept as sent. */
export const envVarSchema = named(
  'EnvVar',
  object(
    'An environment variable of a container, in the shape of core/v1 EnvVar.',
    {
      name: str('Name of the variable.', { pattern: ENV_NAME, maxLength: 256 }),
      value: str('Value of the variable. $(VAR) references to variables defined earlier are expanded.'),
      valueFrom: freeForm(
        'Source of the value in the shape of core/v1 EnvVarSource (secretKeyRef, configMapKeyRef, fieldRef or ' +
          'resourceFieldRef). Cannot be used together with value.',
      ),
    },
    { required: ['name'] },
  ),
);

export function envVars(description: string): JSONSchema {
  return listMap(description, ['name'], envVarSchema, { maxItems: 256 });
}

/** A core/v1 Toleration, kept as sent. */
export function tolerations(description: string): JSONSchema {
  return listAtomic(
    description,
    freeForm('A toleration in the shape of core/v1 Toleration (key, operator, value, effect, tolerationSeconds).'),
    { maxItems: 64 },
  );
}

/** core/v1 PodTemplateSpec with labels and annotations only in its metadata. */
export const podTemplateSchema = named(
  'PodTemplate',
  object(
    'A Pod template: the metadata and spec of the Pods to create.',
    {
      metadata: named(
        'PodTemplateMetadata',
        object('Labels and annotations of the Pod. Other metadata fields are set by the controller.', {
          labels: stringMap('Labels of the Pod.'),
          annotations: stringMap('Annotations of the Pod.'),
        }),
      ),
      spec: freeForm(
        'The Pod spec, in the shape of core/v1 PodSpec (containers, initContainers, volumes, securityContext, ...). It ' +
          'is validated when the Pod is created, not here.',
      ),
    },
    { required: ['spec'] },
  ),
);

export function podTemplate(description: string, extra: JSONSchema = {}): JSONSchema {
  return withDescription(podTemplateSchema, description, extra);
}

export const SERVICE_TYPES = ['ClusterIP', 'NodePort', 'LoadBalancer'];

export const accessModesSchema = listAtomic(
  'Access modes of the volume. ReadWriteOnce unless the storage class needs otherwise.',
  { type: 'string', enum: ['ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOncePod'] },
  { default: ['ReadWriteOnce'], minItems: 1, maxItems: 4 },
);

// ---------------------------------------------------------------------------------------------
// Kinds

/** Printer column: the Ready condition's reason (kubectl's STATUS column for upm.io kinds). */
export const readyReasonColumn: PrinterColumn = {
  name: 'Status',
  jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
  type: 'string',
  description: 'Reason of the Ready condition.',
};

/** Printer column: the object's age, last in every upm.io table. */
export const ageColumn: PrinterColumn = { name: 'Age', jsonPath: '.metadata.creationTimestamp', type: 'date' };

/** What a upm.io kind states; group, version, category, the root schema and the status subresource are common. */
export interface UpmResourceInput {
  kind: string;
  shortNames: string[];
  namespaced: boolean;
  /** Description of the kind (the top of `kubectl explain <kind>` and of the OpenAPI definition). */
  description: string;
  /** Description of the object schema itself. */
  schemaDescription: string;
  spec: JSONSchema;
  status: JSONSchema;
  printerColumns: PrinterColumn[];
  /** Defaults to the status subresource alone. */
  subresources?: ResourceDefinition['subresources'];
  selectableFields?: string[];
}

/** A upm.io/v1alpha1 kind in category upm, with a required spec and a status written through the status subresource. */
export function defineUpmResource(input: UpmResourceInput): ResourceDefinition {
  const { kind, shortNames, namespaced, description, schemaDescription, spec, status, printerColumns } = input;
  return defineResource({
    group: upmGroup,
    version: upmVersion,
    kind,
    shortNames,
    categories: ['upm'],
    namespaced,
    description,
    schema: { type: 'object', description: schemaDescription, properties: { spec, status }, required: ['spec'] },
    printerColumns,
    subresources: input.subresources ?? { status: true },
    ...(input.selectableFields ? { selectableFields: input.selectableFields } : {}),
  });
}
