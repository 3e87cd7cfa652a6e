// Compute resources: the UnitTemplate defaults with the UnitSet's values on top, and the numbers
// config templates see (.Resources: cpu in millicores, memory and other quantities in bytes or
// base units).

import { quantityValue } from '../../../machinery/quantity.js';
import type { ResourceRequirements } from '../../../api/generated/types.js';

/** Template defaults overlaid per resource name by the UnitSet's requests and limits. */
export function mergeResources(
  defaults: ResourceRequirements | undefined,
  overrides: ResourceRequirements | undefined,
): ResourceRequirements | undefined {
  const limits = { ...defaults?.limits, ...overrides?.limits };
  const requests = { ...defaults?.requests, ...overrides?.requests };
  const out: ResourceRequirements = {};
  if (Object.keys(limits).length > 0) out.limits = limits;
  if (Object.keys(requests).length > 0) out.requests = requests;
  return out.limits || out.requests ? out : undefined;
}

export interface TemplateResources {
  requests: Record<string, number>;
  limits: Record<string, number>;
}

/**
 * The resources as config templates see them: cpu in millicores, everything else in base units
 * (memory in bytes). A request missing for a resource with a limit is the limit, as kube defaults it.
 */
export function templateResources(resources: ResourceRequirements | undefined): TemplateResources {
  const convert = (list: Record<string, number | string> | undefined): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const [name, q] of Object.entries(list ?? {})) {
      const v = quantityValue(q);
      if (!Number.isFinite(v)) continue;
      out[name] = name === 'cpu' ? Math.round(v * 1000) : Math.floor(v);
    }
    return out;
  };
  const limits = convert(resources?.limits);
  return { limits, requests: { ...limits, ...convert(resources?.requests) } };
}
