// UnitTemplate: the rules of src/api/rules/unittemplate.ts (Pod template, parameters,
// configuration files that render with the parameter defaults).

import type { Strategy } from '../../apiserver/registry/strategy.js';
import { validateUnitTemplate } from '../rules/unittemplate.js';

export const unitTemplateStrategy: Strategy = { validate: validateUnitTemplate };
