// ObjectMeta validation as k8s.io/apimachinery/pkg/api/validation ValidateObjectMeta does it.

import type { FieldError } from '../../machinery/errors.js';
import { isPlainObject, type ObjectMeta } from '../../machinery/object.js';

const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const qualifiedNamePart = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const totalAnnotationSizeLimit = 256 * 1024;

export function validateDNSSubdomain(value: string): string[] {
  const errs: string[] = [];
  if (value.length > 253) errs.push('must be no more than 253 characters');
  if (!dns1123Subdomain.test(value)) {
    errs.push(
      "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
    );
  }
  return errs;
}

export function validateDNSLabel(value: string): string[] {
  const errs: string[] = [];
  if (value.length > 63) errs.push('must be no more than 63 characters');
  if (!dns1123Label.test(value)) {
    errs.push(
      "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
    );
  }
  return errs;
}

/** A name usable as one URL path segment (RBAC object names: `system:masters` is fine). */
export function validatePathSegmentName(value: string): string[] {
  if (value === '.' || value === '..') return [`may not be '${value}'`];
  const errs: string[] = [];
  for (const bad of ['/', '%']) if (value.includes(bad)) errs.push(`may not contain '${bad}'`);
  return errs;
}

export function validateQualifiedName(value: string): string[] {
  const errs: string[] = [];
  const parts = value.split('/');
  let name = value;
  if (parts.length > 2)
    return [
      "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
    ];
  if (parts.length === 2) {
    const [prefix, n] = parts;
    name = n;
    if (prefix.length === 0) errs.push('prefix part must be non-empty');
    else errs.push(...validateDNSSubdomain(prefix).map((e) => `prefix part ${e}`));
  }
  if (name.length === 0) errs.push('name part must be non-empty');
  else if (name.length > 63) errs.push('name part must be no more than 63 characters');
  if (name.length > 0 && !qualifiedNamePart.test(name)) {
    errs.push(
      "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
    );
  }
  return errs;
}

function validateStringMap(
  field: string,
  value: unknown,
  errors: FieldError[],
  checkValue?: (v: string) => string[],
): void {
  if (value === undefined || value === null) return;
  if (!isPlainObject(value)) {
    errors.push({
      type: 'FieldValueTypeInvalid',
      field,
      value,
      detail: 'must be a map of string keys to string values',
    });
    return;
  }
  for (const [k, v] of Object.entries(value)) {
    for (const e of validateQualifiedName(k)) errors.push({ type: 'FieldValueInvalid', field, value: k, detail: e });
    if (typeof v !== 'string') {
      errors.push({ type: 'FieldValueTypeInvalid', field: `${field}.${k}`, value: v, detail: 'must be a string' });
      continue;
    }
    for (const e of checkValue?.(v) ?? [])
      errors.push({ type: 'FieldValueInvalid', field: `${field}.${k}`, value: v, detail: e });
  }
}

function validateLabelValue(v: string): string[] {
  const errs: string[] = [];
  if (v.length > 63) errs.push('must be no more than 63 characters');
  if (!labelValue.test(v))
    errs.push(
      "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
    );
  return errs;
}

export interface MetaValidationOptions {
  namespaced: boolean;
  /** Validates metadata.name; DNS-1123 subdomain by default. */
  nameValidator?: (name: string) => string[];
}

/** Field errors in the user-settable parts of ObjectMeta. */
export function validateObjectMeta(meta: ObjectMeta, opts: MetaValidationOptions): FieldError[] {
  const errors: FieldError[] = [];
  const nameValidator = opts.nameValidator ?? validateDNSSubdomain;
  if (!meta.name && !meta.generateName) {
    errors.push({ type: 'FieldValueRequired', field: 'metadata.name', detail: 'name or generateName is required' });
  }
  if (meta.name !== undefined && meta.name !== '') {
    if (typeof meta.name !== 'string')
      errors.push({
        type: 'FieldValueTypeInvalid',
        field: 'metadata.name',
        value: meta.name,
        detail: 'must be a string',
      });
    else
      for (const e of nameValidator(meta.name))
        errors.push({ type: 'FieldValueInvalid', field: 'metadata.name', value: meta.name, detail: e });
  }
  if (meta.generateName !== undefined && meta.generateName !== null && typeof meta.generateName !== 'string') {
    errors.push({
      type: 'FieldValueTypeInvalid',
      field: 'metadata.generateName',
      value: meta.generateName,
      detail: 'must be a string',
    });
  } else if (meta.generateName) {
    const trimmed = String(meta.generateName).replace(/-$/, '');
    if (trimmed)
      for (const e of nameValidator(trimmed))
        errors.push({ type: 'FieldValueInvalid', field: 'metadata.generateName', value: meta.generateName, detail: e });
  }
  if (opts.namespaced) {
    if (!meta.namespace) errors.push({ type: 'FieldValueRequired', field: 'metadata.namespace', detail: '' });
    else
      for (const e of validateDNSLabel(meta.namespace))
        errors.push({ type: 'FieldValueInvalid', field: 'metadata.namespace', value: meta.namespace, detail: e });
  } else if (meta.namespace) {
    errors.push({ type: 'FieldValueForbidden', field: 'metadata.namespace', detail: 'not allowed on this type' });
  }
  validateStringMap('metadata.labels', meta.labels, errors, validateLabelValue);
  validateStringMap('metadata.annotations', meta.annotations, errors);
  if (isPlainObject(meta.annotations)) {
    let size = 0;
    for (const [k, v] of Object.entries(meta.annotations)) size += k.length + (typeof v === 'string' ? v.length : 0);
    if (size > totalAnnotationSizeLimit) {
      errors.push({
        type: 'FieldValueTooLong',
        field: 'metadata.annotations',
        detail: `may not have more than ${totalAnnotationSizeLimit} bytes`,
      });
    }
  }
  if (meta.finalizers !== undefined) {
    if (!Array.isArray(meta.finalizers))
      errors.push({
        type: 'FieldValueTypeInvalid',
        field: 'metadata.finalizers',
        value: meta.finalizers,
        detail: 'must be a list of strings',
      });
    else {
      const seen = new Set<string>();
      meta.finalizers.forEach((f, i) => {
        const field = `metadata.finalizers[${i}]`;
        if (typeof f !== 'string')
          return errors.push({ type: 'FieldValueTypeInvalid', field, value: f, detail: 'must be a string' });
        for (const e of validateQualifiedName(f))
          errors.push({ type: 'FieldValueInvalid', field, value: f, detail: e });
        if (seen.has(f)) errors.push({ type: 'FieldValueDuplicate', field, value: f, detail: '' });
        seen.add(f);
      });
    }
  }
  if (meta.ownerReferences !== undefined) {
    if (!Array.isArray(meta.ownerReferences)) {
      errors.push({
        type: 'FieldValueTypeInvalid',
        field: 'metadata.ownerReferences',
        value: meta.ownerReferences,
        detail: 'must be a list',
      });
    } else {
      let controllers = 0;
      meta.ownerReferences.forEach((ref, i) => {
        const field = `metadata.ownerReferences[${i}]`;
        if (!isPlainObject(ref))
          return errors.push({ type: 'FieldValueTypeInvalid', field, value: ref, detail: 'must be an object' });
        for (const key of ['apiVersion', 'kind', 'name', 'uid'] as const) {
          if (!ref[key])
            errors.push({ type: 'FieldValueRequired', field: `${field}.${key}`, detail: `${key} must not be empty` });
        }
        if (ref.controller === true) controllers++;
      });
      if (controllers > 1) {
        errors.push({
          type: 'FieldValueInvalid',
          field: 'metadata.ownerReferences',
          value: meta.ownerReferences,
          detail: 'Only one reference can have Controller set to true',
        });
      }
    }
  }
  return errors;
}
