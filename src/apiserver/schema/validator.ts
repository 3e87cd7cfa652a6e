// Validates objects against a kind's structural schema with ajv and renders failures as kube
// field errors, with the messages kube-apiserver gives for custom resources
// (`spec.units: Invalid value: -1: spec.units in body should be greater than or equal to 0`).

import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FieldError } from '../../machinery/errors.js';
import type { JSONSchema } from '../../machinery/definition.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

const kubernetesKeywords = [
  'x-kubernetes-int-or-string',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-embedded-resource',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-map-type',
  'x-kubernetes-validations',
];

function newAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: true });
  addFormats(ajv);
  for (const keyword of kubernetesKeywords) ajv.addKeyword({ keyword });
  // Kubernetes integer/byte formats are descriptive; the type already constrains the value.
  for (const format of ['int32', 'int64', 'float', 'double', 'byte', 'quantity']) ajv.addFormat(format, true);
  return ajv;
}

const sharedAjv = newAjv();

export interface SchemaValidator {
  /** Field errors of `value` under the schema; empty when valid. */
  validate(value: unknown): FieldError[];
}

/** Compiles a validator for a whole object: the kind's schema plus apiVersion/kind/metadata. */
export function compileObjectValidator(schema: JSONSchema): SchemaValidator {
  const full: JSONSchema = {
    ...schema,
    type: 'object',
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: { type: 'object' },
      ...(schema.properties ?? {}),
    },
  };
  return compileValidator(full);
}

export function compileValidator(schema: JSONSchema): SchemaValidator {
  const fn: ValidateFunction = sharedAjv.compile(schema as object);
  return {
    validate(value: unknown): FieldError[] {
      if (fn(value)) return [];
      return toFieldErrors(fn.errors ?? [], value);
    },
  };
}

/** `/spec/list/0/name` → `spec.list[0].name`. */
export function pointerToFieldPath(pointer: string): string {
  let out = '';
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^\d+$/.test(seg)) out += `[${seg}]`;
    else out += out ? `.${seg}` : seg;
  }
  return out;
}

function valueAt(root: unknown, pointer: string): unknown {
  let cur: unknown = root;
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur;
}

function toFieldErrors(errors: ErrorObject[], root: unknown): FieldError[] {
  // anyOf failures report every branch; keep one error per path, preferring the anyOf summary.
  const anyOfPaths = new Set(
    errors.filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf').map((e) => e.instancePath),
  );
  const out: FieldError[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    if (anyOfPaths.has(e.instancePath) && e.keyword !== 'anyOf' && e.keyword !== 'oneOf') continue;
    const field = pointerToFieldPath(e.instancePath);
    const value = valueAt(root, e.instancePath);
    const inBody = `${field || '<root>'} in body`;
    let fe: FieldError;
    switch (e.keyword) {
      case 'required': {
        const missing = (e.params as { missingProperty: string }).missingProperty;
        fe = { type: 'FieldValueRequired', field: field ? `${field}.${missing}` : missing, detail: '' };
        break;
      }
      case 'enum': {
        const allowed = (e.params as { allowedValues: unknown[] }).allowedValues;
        fe = {
          type: 'FieldValueNotSupported',
          field,
          value,
          detail: `supported values: ${allowed.map((a) => JSON.stringify(a)).join(', ')}`,
        };
        break;
      }
      case 'type':
        fe = {
          type: 'FieldValueTypeInvalid',
          field,
          value,
          detail: `${inBody} must be of type ${(e.params as { type: string }).type}: ${JSON.stringify(typeName(value))}`,
        };
        break;
      case 'minimum':
      case 'exclusiveMinimum':
        fe = {
          type: 'FieldValueInvalid',
          field,
          value,
          detail: `${inBody} should be greater than ${e.keyword === 'minimum' ? 'or equal to ' : ''}${(e.params as { limit: number }).limit}`,
        };
        break;
      case 'maximum':
      case 'exclusiveMaximum':
        fe = {
          type: 'FieldValueInvalid',
          field,
          value,
          detail: `${inBody} should be less than ${e.keyword === 'maximum' ? 'or equal to ' : ''}${(e.params as { limit: number }).limit}`,
        };
        break;
      case 'maxLength':
        fe = {
          type: 'FieldValueTooLong',
          field,
          value,
          detail: `may not be more than ${(e.params as { limit: number }).limit} bytes`,
        };
        break;
      case 'maxItems':
        fe = {
          type: 'FieldValueTooMany',
          field,
          value,
          detail: `must have at most ${(e.params as { limit: number }).limit} items`,
        };
        break;
      case 'pattern':
        fe = {
          type: 'FieldValueInvalid',
          field,
          value,
          detail: `${inBody} should match '${(e.params as { pattern: string }).pattern}'`,
        };
        break;
      case 'anyOf':
      case 'oneOf':
        fe = {
          type: 'FieldValueInvalid',
          field,
          value,
          detail: `${inBody} must match ${e.keyword === 'anyOf' ? 'at least one' : 'exactly one'} of the allowed schemas`,
        };
        break;
      default:
        fe = { type: 'FieldValueInvalid', field, value, detail: `${inBody} ${e.message ?? 'is invalid'}` };
    }
    const key = `${fe.field}|${fe.type}|${fe.detail}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(fe);
  }
  return out;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}
