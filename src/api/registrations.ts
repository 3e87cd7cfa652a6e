// The upm.io kinds as the API server registers them: each definition with its strategy.

import type { ResourceRegistration } from '../apiserver/registry/registry.js';
import { upmResources } from './index.js';
import { unitSetStrategy } from './strategies/unitset.js';
import { unitSetDefinition } from './unitset.js';

export function upmRegistrations(): ResourceRegistration[] {
  return upmResources.map((definition) => ({
    definition,
    ...(definition === unitSetDefinition ? { strategy: unitSetStrategy } : {}),
  }));
}
