// The upm.io kinds as the API server registers them: each definition with its strategy.

import type { ResourceDefinition } from '../machinery/definition.js';
import type { ResourceRegistration } from '../apiserver/registry/registry.js';
import type { Strategy } from '../apiserver/registry/strategy.js';
import { upmResources } from './index.js';
import { sidecarSetDefinition } from './sidecarset.js';
import { sidecarSetStrategy } from './strategies/sidecarset.js';
import { unitSetStrategy } from './strategies/unitset.js';
import { unitTemplateStrategy } from './strategies/unittemplate.js';
import { unitSetDefinition } from './unitset.js';
import { unitTemplateDefinition } from './unittemplate.js';

const strategies = new Map<ResourceDefinition, Strategy>([
  [unitSetDefinition, unitSetStrategy],
  [unitTemplateDefinition, unitTemplateStrategy],
  [sidecarSetDefinition, sidecarSetStrategy],
]);

export function upmRegistrations(): ResourceRegistration[] {
  return upmResources.map((definition) => {
    const strategy = strategies.get(definition);
    return strategy ? { definition, strategy } : { definition };
  });
}
