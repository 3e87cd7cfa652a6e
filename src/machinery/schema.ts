// Builders of structural OpenAPI v3 schemas (the CRD subset of definition.ts), shared by every
// kind definition: the upm.io kinds and the built-in kinds of the local control plane.
// `extra` carries any other keyword (default, enum, pattern, minimum, ...).

import type { JSONSchema } from './definition.js';

/** RFC 1123 DNS label: Namespace, Service and most object names. */
export const DNS_LABEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
/** RFC 1123 DNS subdomain: names of objects such as ConfigMaps, Secrets and UnitTemplates. */
export const DNS_SUBDOMAIN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
/** A resource.Quantity in its canonical string form (what kube-apiserver accepts). */
export const QUANTITY =
  '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';

export function str(description: string, extra: JSONSchema = {}): JSONSchema {
  return { type: 'string', description, ...extra };
}

export function int32(description: string, extra: JSONSchema = {}): JSONSchema {
  return { type: 'integer', format: 'int32', description, ...extra };
}

export function int64(description: string, extra: JSONSchema = {}): JSONSchema {
  return { type: 'integer', format: 'int64', description, ...extra };
}

export function bool(description: string, extra: JSONSchema = {}): JSONSchema {
  return { type: 'boolean', description, ...extra };
}

export function enumStr(description: string, values: string[], extra: JSONSchema = {}): JSONSchema {
  return { type: 'string', description, enum: values, ...extra };
}

export function dateTime(description: string, extra: JSONSchema = {}): JSONSchema {
  return { type: 'string', format: 'date-time', description, ...extra };
}

/** A metav1.Time or MicroTime as Go clients send it: the zero time is null. */
export function time(description: string): JSONSchema {
  return dateTime(description, { nullable: true });
}

export function object(
  description: string,
  properties: Record<string, JSONSchema>,
  extra: JSONSchema = {},
): JSONSchema {
  return { type: 'object', description, properties, ...extra };
}

/** A map with string keys (`additionalProperties`). */
export function map(description: string, values: JSONSchema, extra: JSONSchema = {}): JSONSchema {
  return { type: 'object', description, additionalProperties: values, ...extra };
}

export function stringMap(description: string, extra: JSONSchema = {}): JSONSchema {
  return map(description, { type: 'string' }, extra);
}

/** A list of strings. */
export function strings(description: string, extra: JSONSchema = {}): JSONSchema {
  return { type: 'array', description, items: { type: 'string' }, ...extra };
}

/** A list whose items are identified by `keys` (merged item by item by server-side apply). */
export function listMap(description: string, keys: string[], items: JSONSchema, extra: JSONSchema = {}): JSONSchema {
  return {
    type: 'array',
    description,
    items,
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': keys,
    ...extra,
  };
}

/** A list of unique scalars. */
export function listSet(description: string, items: JSONSchema, extra: JSONSchema = {}): JSONSchema {
  return { type: 'array', description, items, 'x-kubernetes-list-type': 'set', ...extra };
}

/** A list replaced as a whole. */
export function listAtomic(description: string, items: JSONSchema, extra: JSONSchema = {}): JSONSchema {
  return { type: 'array', description, items, 'x-kubernetes-list-type': 'atomic', ...extra };
}

/** A free-form object kept as sent (no pruning, no validation below it). */
export function freeForm(description: string, extra: JSONSchema = {}): JSONSchema {
  return { type: 'object', description, 'x-kubernetes-preserve-unknown-fields': true, ...extra };
}

/** A resource.Quantity such as `500m`, `2`, `1Gi`: an integer or a string. */
export function quantity(description: string, extra: JSONSchema = {}): JSONSchema {
  return {
    description,
    anyOf: [{ type: 'integer' }, { type: 'string' }],
    pattern: QUANTITY,
    'x-kubernetes-int-or-string': true,
    ...extra,
  };
}

/** An integer or a string (IntOrString); `pattern` constrains the string form. */
export function intOrString(description: string, extra: JSONSchema = {}): JSONSchema {
  return {
    description,
    anyOf: [{ type: 'integer' }, { type: 'string' }],
    'x-kubernetes-int-or-string': true,
    ...extra,
  };
}

export function port(description: string, extra: JSONSchema = {}): JSONSchema {
  return int32(description, { minimum: 1, maximum: 65535, ...extra });
}

export function dnsLabel(description: string, extra: JSONSchema = {}): JSONSchema {
  return str(description, { pattern: DNS_LABEL, maxLength: 63, ...extra });
}

export function dnsSubdomain(description: string, extra: JSONSchema = {}): JSONSchema {
  return str(description, { pattern: DNS_SUBDOMAIN, maxLength: 253, ...extra });
}

export function quantityMap(description: string): JSONSchema {
  return map(description, quantity(''));
}

/** An object with some declared fields that keeps any other field as sent. */
export function loose(
  description: string,
  properties: Record<string, JSONSchema> = {},
  extra: JSONSchema = {},
): JSONSchema {
  return { type: 'object', description, properties, 'x-kubernetes-preserve-unknown-fields': true, ...extra };
}

/** A list of loose objects. */
export function looseList(
  description: string,
  properties: Record<string, JSONSchema> = {},
  extra: JSONSchema = {},
): JSONSchema {
  return { type: 'array', description, items: loose('', properties), ...extra };
}

/** A list of loose objects keyed by `keys` (merged item by item by server-side apply). */
export function looseMapList(
  description: string,
  keys: string[],
  properties: Record<string, JSONSchema> = {},
): JSONSchema {
  return listMap(description, keys, loose('', properties));
}

/** The schema of a whole kind: its top-level fields besides apiVersion, kind and metadata. */
export function kindSchema(description: string, properties: Record<string, JSONSchema>): JSONSchema {
  return object(description, properties);
}

/** The condition shape most built-in kinds share (type/status/reason/message/times), kept loose. */
export function conditionList(description: string, extra: Record<string, JSONSchema> = {}): JSONSchema {
  return looseMapList(description, ['type'], {
    type: str('Type of the condition.'),
    status: str('Status of the condition, one of True, False, Unknown.'),
    reason: str("Unique, one-word, CamelCase reason for the condition's last transition."),
    message: str('Human-readable message indicating details about the last transition.'),
    lastTransitionTime: time('Last time the condition transitioned from one status to another.'),
    ...extra,
  });
}
