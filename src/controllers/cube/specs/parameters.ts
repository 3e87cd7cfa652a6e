// Parameter values: the UnitTemplate defaults overlaid by each layer of overrides (the UnitSet's,
// then the Unit's), each value checked against its definition (type, range, allowed values,
// pattern). Problems are returned, not thrown, so a controller can report them all in a condition.

import type { UnitTemplate, UnitTemplateParameter } from '../../../api/generated/types.js';
import { checkParameterValue, typedParameterValue } from '../../../api/rules/parameters.js';

// The check of one value is an admission rule too (UnitSet overrides): one copy, in src/api/rules.
export { checkParameterValue };

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

/**
 * Values as config templates see them (.Parameters): integers and numbers as numbers (integers
 * beyond 2^53 stay text), booleans as true/false, everything else as the text given.
 */
export function typedParameterValues(template: UnitTemplate, values: Record<string, string>): Record<string, unknown> {
  const defs = parameterDefinitions(template);
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(values)) out[name] = typedParameterValue(defs.get(name), value);
  return out;
}

/** Whether a parameter change is applied online (true) or needs a restart (false; unknown ones too). */
export function isDynamicParameter(template: UnitTemplate, name: string): boolean {
  return parameterDefinitions(template).get(name)?.dynamic === true;
}

function sortedRecord(r: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
