// Small builders for the schemas of the built-in kinds. These schemas are permissive on purpose:
// the upstream OpenAPI of core/v1 is far too large to restate, so each kind declares its
// top-level fields and the fields the printer columns, field selectors and strategies read, and
// keeps everything else as sent (`x-kubernetes-preserve-unknown-fields`).

import type { JSONSchema } from '../../machinery/definition.js';

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

/** A metav1.Time or MicroTime; Go clients send the zero time as null. */
export function time(description: string): JSONSchema {
  return { type: 'string', format: 'date-time', nullable: true, description };
}

export function stringMap(description: string): JSONSchema {
  return { type: 'object', description, additionalProperties: { type: 'string' } };
}

export function strings(description: string): JSONSchema {
  return { type: 'array', description, items: { type: 'string' } };
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
  return {
    type: 'array',
    description,
    items: loose('', properties),
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': keys,
  };
}

/** A resource.Quantity: an integer or a string. */
export function quantity(description: string): JSONSchema {
  return { description, anyOf: [{ type: 'integer' }, { type: 'string' }], 'x-kubernetes-int-or-string': true };
}

export function quantityMap(description: string): JSONSchema {
  return { type: 'object', description, additionalProperties: quantity('') };
}

/** The schema of a whole kind: its top-level fields besides apiVersion, kind and metadata. */
export function kindSchema(description: string, properties: Record<string, JSONSchema>): JSONSchema {
  return { type: 'object', description, properties };
}

/** The condition shape shared by most kinds (type/status/reason/message/times). */
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
