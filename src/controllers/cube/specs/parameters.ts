// Parameter values: the UnitTemplate defaults overlaid by each layer of overrides (the UnitSet's,
// then the Unit's), each value checked against its definition (type, range, allowed values,
// pattern). Problems are returned, not thrown, so a controller can report them all in a condition.

import { quantityValue } from '../../../machinery/quantity.js';
import type { UnitTemplate, UnitTemplateParameter } from '../../../api/generated/types.js';

export type ParameterProblemReason = 'UnknownParameter' | 'InvalidParameterValue';

export interface ParameterProblem {
  reason: ParameterProblemReason;
  parameter: string;
  message: string;
}

export interface ResolvedParameters {
  /** Every parameter with a value: defaults, then overrides, as text. */
  values: Record<string, string>;
  problems: ParameterProblem[];
}

const TRUE_WORDS = ['true', 'on', 'yes', '1'];
const FALSE_WORDS = ['false', 'off', 'no', '0'];
const INTEGER = /^[+-]?[0-9]+$/;
const DECIMAL = /^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$/;

export function parameterDefinitions(template: UnitTemplate): Map<string, UnitTemplateParameter> {
  return new Map((template.spec.parameters ?? []).map((p) => [p.name, p]));
}

/**
 * Defaults of `template` overlaid by `layers` in order (later wins). Keys not defined by the
 * template and values that do not fit their definition are problems; such entries are left out of
 * `values` (an invalid override falls back to what was below it).
 */
export function resolveParameters(
  template: UnitTemplate,
  ...layers: (Record<string, string> | undefined)[]
): ResolvedParameters {
  const defs = parameterDefinitions(template);
  const values: Record<string, string> = {};
  const problems: ParameterProblem[] = [];
  for (const def of defs.values()) {
    if (def.default === undefined) continue;
    const why = checkParameterValue(def, def.default);
    if (why) problems.push({ reason: 'InvalidParameterValue', parameter: def.name, message: `default ${why}` });
    else values[def.name] = def.default;
  }
  for (const layer of layers) {
    for (const name of Object.keys(layer ?? {}).sort()) {
      const value = layer![name];
      const def = defs.get(name);
      if (!def) {
        problems.push({
          reason: 'UnknownParameter',
          parameter: name,
          message: `parameter "${name}" is not defined by UnitTemplate ${template.metadata.name}`,
        });
        continue;
      }
      const why = checkParameterValue(def, value);
      if (why) problems.push({ reason: 'InvalidParameterValue', parameter: name, message: why });
      else values[name] = value;
    }
  }
  return { values: sortedRecord(values), problems };
}

/** Why `value` does not fit `def`, or undefined when it does. */
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

/**
 * Values as config templates see them (.Parameters): integers and numbers as numbers (integers
 * beyond 2^53 stay text), booleans as true/false, everything else as the text given.
 */
export function typedParameterValues(template: UnitTemplate, values: Record<string, string>): Record<string, unknown> {
  const defs = parameterDefinitions(template);
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(values)) {
    const def = defs.get(name);
    switch (def?.type) {
      case 'integer': {
        const n = Number(value);
        out[name] = Number.isSafeInteger(n) ? n : value.trim();
        break;
      }
      case 'number':
        out[name] = Number(value);
        break;
      case 'boolean':
        out[name] = TRUE_WORDS.includes(value.trim().toLowerCase());
        break;
      default:
        out[name] = value;
    }
  }
  return out;
}

/** Whether a parameter change is applied online (true) or needs a restart (false; unknown ones too). */
export function isDynamicParameter(template: UnitTemplate, name: string): boolean {
  return parameterDefinitions(template).get(name)?.dynamic === true;
}

function sortedRecord(r: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
