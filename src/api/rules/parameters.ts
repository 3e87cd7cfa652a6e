// UnitTemplate parameters: whether a definition is consistent (type, allowed values, range,
// pattern, default, dynamic vs immutable) and whether a value (a default, a UnitSet or Unit
// override) satisfies its definition. Values travel as text; templates see them typed. The
// controllers resolve parameters with these same functions.

import type { FieldError } from '../../machinery/errors.js';
import { quantityValue } from '../../machinery/quantity.js';
import type { UnitTemplateParameter } from '../generated/types.js';
import { duplicate, forbidden, invalid, listOf, required } from './fields.js';

export type ParameterType = UnitTemplateParameter['type'];

/** Words a boolean parameter accepts (case-insensitive), as the engines do. */
export const TRUE_WORDS = ['true', 'on', 'yes', '1'];
export const FALSE_WORDS = ['false', 'off', 'no', '0'];
const INTEGER = /^[+-]?[0-9]+$/;
const DECIMAL = /^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$/;

const rangeTypes: readonly ParameterType[] = ['integer', 'number', 'quantity'];

/**
 * Why `value` does not fit `def` (`<name>="<value>": <reason>`), or undefined when it does. The
 * controllers (which resolve a Unit's parameters) and admission share this one check.
 */
export function checkParameterValue(def: UnitTemplateParameter, value: string): string | undefined {
  const shown = `${def.name}=${JSON.stringify(value)}`;
  switch (def.type) {
    case 'integer': {
      if (!INTEGER.test(value.trim())) return `${shown}: not an integer`;
      return checkRange(def, shown, BigInt(value.trim()), (bound) => (INTEGER.test(bound) ? BigInt(bound) : undefined));
    }
    case 'number': {
      if (!DECIMAL.test(value.trim())) return `${shown}: not a number`;
      return checkRange(def, shown, Number(value), (bound) => (DECIMAL.test(bound) ? Number(bound) : undefined));
    }
    case 'quantity': {
      const q = quantityValue(value);
      if (!Number.isFinite(q)) return `${shown}: not a quantity (for example 512Mi or 2G)`;
      return checkRange(def, shown, q, (bound) => {
        const b = quantityValue(bound);
        return Number.isFinite(b) ? b : undefined;
      });
    }
    case 'boolean': {
      const word = value.trim().toLowerCase();
      if (!TRUE_WORDS.includes(word) && !FALSE_WORDS.includes(word)) return `${shown}: not a boolean (true or false)`;
      return undefined;
    }
    case 'enum': {
      const allowed = def.allowedValues ?? [];
      if (!allowed.includes(value)) return `${shown}: must be one of ${allowed.join(', ')}`;
      return undefined;
    }
    case 'set': {
      const allowed = def.allowedValues ?? [];
      const bad = value
        .split(',')
        .map((v) => v.trim())
        .filter((v) => v !== '' && !allowed.includes(v));
      if (bad.length > 0) return `${shown}: ${bad.join(', ')} not among ${allowed.join(', ')}`;
      return undefined;
    }
    case 'string': {
      if (def.pattern === undefined) return undefined;
      let re: RegExp;
      try {
        re = new RegExp(def.pattern, 'u');
      } catch {
        return `${def.name}: the template's pattern ${JSON.stringify(def.pattern)} is not a valid regular expression`;
      }
      return re.test(value) ? undefined : `${shown}: does not match ${def.pattern}`;
    }
  }
}

function checkRange<T extends number | bigint>(
  def: UnitTemplateParameter,
  shown: string,
  value: T,
  parse: (bound: string) => T | undefined,
): string | undefined {
  const bound = (b: number | string | undefined) => (b === undefined ? undefined : parse(String(b).trim()));
  const min = bound(def.minimum);
  const max = bound(def.maximum);
  if (min !== undefined && value < min) return `${shown}: below the minimum ${def.minimum}`;
  if (max !== undefined && value > max) return `${shown}: above the maximum ${def.maximum}`;
  return undefined;
}

/** checkParameterValue's reason without the `<name>="<value>": ` it starts with (a field error shows the value). */
export function parameterValueProblem(def: UnitTemplateParameter, value: string): string | undefined {
  const why = checkParameterValue(def, value);
  const shown = `${def.name}=${JSON.stringify(value)}: `;
  return why?.startsWith(shown) ? why.slice(shown.length) : why;
}

/** A value as config templates see it: integers and numbers as numbers (integers beyond 2^53 stay text), booleans, else text. */
export function typedParameterValue(def: Pick<UnitTemplateParameter, 'type'> | undefined, value: string): unknown {
  switch (def?.type) {
    case 'integer': {
      const n = Number(value);
      return Number.isSafeInteger(n) ? n : value.trim();
    }
    case 'number':
      return Number(value);
    case 'boolean':
      return TRUE_WORDS.includes(value.trim().toLowerCase());
    default:
      return value;
  }
}

function numeric(type: ParameterType, v: string | number): number {
  if (typeof v === 'number') return v;
  const text = v.trim();
  if (type === 'integer') return INTEGER.test(text) ? Number(text) : NaN;
  if (type === 'number') return DECIMAL.test(text) ? Number(text) : NaN;
  return quantityValue(text);
}

function validPattern(pattern: string): string | undefined {
  try {
    new RegExp(pattern, 'u');
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Field errors of spec.parameters (at `field`): each definition consistent, names unique. */
export function validateParameterDefinitions(parameters: unknown, field: string): FieldError[] {
  const errs: FieldError[] = [];
  const seen = new Set<string>();
  listOf(parameters).forEach((raw, i) => {
    const p = raw as UnitTemplateParameter;
    const f = `${field}[${i}]`;
    if (!p || typeof p !== 'object' || typeof p.name !== 'string') return;
    if (seen.has(p.name)) errs.push(duplicate(`${f}.name`, p.name));
    seen.add(p.name);
    const choice = p.type === 'enum' || p.type === 'set';
    const allowed = p.allowedValues ?? [];
    if (choice && allowed.length === 0)
      errs.push(required(`${f}.allowedValues`, `a parameter of type ${p.type} must list its allowed values`));
    if (!choice && p.allowedValues !== undefined)
      errs.push(forbidden(`${f}.allowedValues`, `only enum and set parameters have allowed values, not ${p.type}`));
    if (p.type === 'set')
      allowed.forEach((a, j) => {
        if (a.includes(',')) errs.push(invalid(`${f}.allowedValues[${j}]`, a, 'values of a set cannot contain ","'));
      });
    for (const bound of ['minimum', 'maximum'] as const) {
      const b = p[bound];
      if (b === undefined) continue;
      if (!rangeTypes.includes(p.type))
        errs.push(
          forbidden(`${f}.${bound}`, `only integer, number and quantity parameters have a range, not ${p.type}`),
        );
      else if (!Number.isFinite(numeric(p.type, b)))
        errs.push(invalid(`${f}.${bound}`, b, `must be a value of type ${p.type}`));
    }
    if (rangeTypes.includes(p.type) && p.minimum !== undefined && p.maximum !== undefined) {
      const min = numeric(p.type, p.minimum);
      const max = numeric(p.type, p.maximum);
      if (min > max)
        errs.push(invalid(`${f}.maximum`, p.maximum, `must be greater than or equal to minimum ${String(p.minimum)}`));
    }
    if (p.pattern !== undefined) {
      if (p.type !== 'string')
        errs.push(forbidden(`${f}.pattern`, `only string parameters have a pattern, not ${p.type}`));
      else {
        const bad = validPattern(p.pattern);
        if (bad) errs.push(invalid(`${f}.pattern`, p.pattern, `not a valid regular expression: ${bad}`));
      }
    }
    if (p.dynamic && p.immutable)
      errs.push(invalid(`${f}.dynamic`, true, 'an immutable parameter cannot be changed, so it cannot be dynamic'));
    if (p.default !== undefined && (p.pattern === undefined || !validPattern(p.pattern))) {
      const why = parameterValueProblem(p, p.default);
      if (why) errs.push(invalid(`${f}.default`, p.default, why));
    }
    return undefined;
  });
  return errs;
}
