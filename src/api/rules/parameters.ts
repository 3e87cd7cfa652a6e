// UnitTemplate parameters: whether a definition is consistent (type, allowed values, range,
// pattern, default, dynamic vs immutable) and whether a value (a default, a UnitSet override)
// satisfies its definition. Values travel as text; templates see them typed.

import type { FieldError } from '../../machinery/errors.js';
import { quantityValue } from '../../machinery/quantity.js';
import type { UnitTemplateParameter } from '../generated/types.js';
import { duplicate, forbidden, invalid, isQuantity, listOf, required } from './fields.js';

export type ParameterType = UnitTemplateParameter['type'];

const integerRe = /^[+-]?\d+$/;
const numberRe = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** The numeric value of a bound or value of a numeric parameter type; NaN when it does not parse. */
function numeric(type: ParameterType, v: string | number): number {
  if (typeof v === 'number') return v;
  const text = v.trim();
  if (type === 'integer') return integerRe.test(text) ? Number(text) : NaN;
  if (type === 'number') return numberRe.test(text) ? Number(text) : NaN;
  if (type === 'quantity') return isQuantity(text) ? quantityValue(text) : NaN;
  return NaN;
}

const rangeTypes: readonly ParameterType[] = ['integer', 'number', 'quantity'];

function compilePattern(pattern: string): RegExp | string {
  try {
    return new RegExp(`^(?:${pattern})$`, 'u');
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * Why `value` is not acceptable for the parameter, or undefined when it is. Messages read after
 * `Invalid value: "<value>": `.
 */
export function checkParameterValue(p: UnitTemplateParameter, value: string): string | undefined {
  const allowed = p.allowedValues ?? [];
  switch (p.type) {
    case 'integer':
      if (!integerRe.test(value.trim())) return 'must be an integer';
      break;
    case 'number':
      if (!numberRe.test(value.trim())) return 'must be a decimal number';
      break;
    case 'quantity':
      if (!isQuantity(value.trim())) return 'must be a quantity, for example 512Mi or 2G';
      break;
    case 'boolean':
      if (value !== 'true' && value !== 'false') return 'must be true or false';
      return undefined;
    case 'enum':
      if (!allowed.includes(value)) return `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`;
      return undefined;
    case 'set': {
      if (value === '') return undefined;
      const bad = value.split(',').filter((v) => !allowed.includes(v.trim()));
      if (bad.length > 0)
        return `${bad.map((b) => JSON.stringify(b.trim())).join(', ')} ${bad.length === 1 ? 'is' : 'are'} not among the allowed values ${allowed.map((a) => JSON.stringify(a)).join(', ')}`;
      return undefined;
    }
    case 'string': {
      if (p.pattern === undefined) return undefined;
      const re = compilePattern(p.pattern);
      if (typeof re === 'string') return undefined; // the definition itself is reported
      return re.test(value) ? undefined : `must match the pattern ${JSON.stringify(p.pattern)}`;
    }
    default:
      return undefined;
  }
  const n = numeric(p.type, value);
  if (p.minimum !== undefined) {
    const min = numeric(p.type, p.minimum);
    if (Number.isFinite(min) && n < min) return `must be greater than or equal to ${String(p.minimum)}`;
  }
  if (p.maximum !== undefined) {
    const max = numeric(p.type, p.maximum);
    if (Number.isFinite(max) && n > max) return `must be less than or equal to ${String(p.maximum)}`;
  }
  return undefined;
}

/** The value a configuration template sees: numbers for integer and number, booleans, text otherwise. */
export function typedParameterValue(p: Pick<UnitTemplateParameter, 'type'>, value: string): unknown {
  switch (p.type) {
    case 'integer':
    case 'number': {
      const n = Number(value.trim());
      return Number.isFinite(n) ? n : value;
    }
    case 'boolean':
      return value === 'true';
    default:
      return value;
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
        const re = compilePattern(p.pattern);
        if (typeof re === 'string')
          errs.push(invalid(`${f}.pattern`, p.pattern, `not a valid regular expression: ${re}`));
      }
    }
    if (p.dynamic && p.immutable)
      errs.push(invalid(`${f}.dynamic`, true, 'an immutable parameter cannot be changed, so it cannot be dynamic'));
    if (p.default !== undefined) {
      const why = checkParameterValue(p, p.default);
      if (why) errs.push(invalid(`${f}.default`, p.default, why));
    }
    return undefined;
  });
  return errs;
}
