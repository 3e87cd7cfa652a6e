// SidecarSet: the rules of src/api/rules/sidecarset.ts that need no other object (the
// collisions with UnitTemplates are checked by the admission webhook, which reads them).

import type { Strategy } from '../../apiserver/registry/strategy.js';
import { validateSidecarSet } from '../rules/sidecarset.js';

export const sidecarSetStrategy: Strategy = { validate: validateSidecarSet };
