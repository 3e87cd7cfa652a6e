// Small builders of kube field errors (k8s.io/apimachinery/pkg/util/validation/field) for the
// rule modules, and the checks several kinds share.

import type { FieldError } from '../../machinery/errors.js';
import { QUANTITY } from '../../machinery/schema.js';
import { quantityValue } from '../../machinery/quantity.js';

export const required = (field: string, detail = ''): FieldError => ({ type: 'FieldValueRequired', field, detail });
export const invalid = (field: string, value: unknown, detail: string): FieldError => ({
  type: 'FieldValueInvalid',
  field,
  value,
  detail,
});
export const forbidden = (field: string, detail: string): FieldError => ({
  type: 'FieldValueForbidden',
  field,
  detail,
});
export const duplicate = (field: string, value: unknown, detail = ''): FieldError => ({
  type: 'FieldValueDuplicate',
  field,
  value,
  detail,
});
export const notFound = (field: string, value: unknown, detail = ''): FieldError => ({
  type: 'FieldValueNotFound',
  field,
  value,
  detail,
});
export const notSupported = (field: string, value: unknown, values: readonly string[]): FieldError => ({
  type: 'FieldValueNotSupported',
  field,
  value,
  detail: `supported values: ${values.map((v) => JSON.stringify(v)).join(', ')}`,
});

const quantityRe = new RegExp(QUANTITY);

export function isQuantity(v: unknown): boolean {
  return (typeof v === 'number' && Number.isFinite(v)) || (typeof v === 'string' && quantityRe.test(v));
}

export function isPlainRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function listOf(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** core/v1 ResourceRequirements: quantities parse, nothing negative, requests not above limits. */
export function validateResources(field: string, resources: unknown): FieldError[] {
  const errs: FieldError[] = [];
  if (!isPlainRecord(resources)) return errs;
  const requests = isPlainRecord(resources['requests']) ? resources['requests'] : {};
  const limits = isPlainRecord(resources['limits']) ? resources['limits'] : {};
  for (const [kind, values] of [
    ['requests', requests],
    ['limits', limits],
  ] as const) {
    for (const [name, q] of Object.entries(values)) {
      const f = `${field}.${kind}[${name}]`;
      if (!isQuantity(q)) errs.push(invalid(f, q, 'must be a quantity, for example 500m or 2Gi'));
      else if (quantityValue(q as string | number) < 0) errs.push(invalid(f, q, 'must be greater than or equal to 0'));
    }
  }
  for (const [name, q] of Object.entries(requests)) {
    const limit = limits[name];
    if (limit === undefined || !isQuantity(q) || !isQuantity(limit)) continue;
    if (quantityValue(q as string | number) > quantityValue(limit as string | number))
      errs.push(
        invalid(`${field}.requests[${name}]`, q, `must be less than or equal to ${name} limit of ${String(limit)}`),
      );
  }
  return errs;
}
