// The upm.io/v1alpha1 API: one ResourceDefinition per kind. The generic API machinery serves
// them; src/api/generated/types.ts holds the TypeScript types generated from the same schemas.

import type { ResourceDefinition } from '../machinery/definition.js';
import { mysqlReplicationDefinition } from './mysqlreplication.js';
import { proxysqlSyncDefinition } from './proxysqlsync.js';
import { redisClusterDefinition } from './rediscluster.js';
import { redisReplicationDefinition } from './redisreplication.js';
import { sidecarSetDefinition } from './sidecarset.js';
import { unitDefinition } from './unit.js';
import { unitSetDefinition } from './unitset.js';
import { unitTemplateDefinition } from './unittemplate.js';

export { upmGroup, upmVersion } from './common.js';
export { defaultUnitTemplateName, UNITSET_DEFAULT_EDITION } from './unitset.js';
export {
  mysqlReplicationDefinition,
  proxysqlSyncDefinition,
  redisClusterDefinition,
  redisReplicationDefinition,
  sidecarSetDefinition,
  unitDefinition,
  unitSetDefinition,
  unitTemplateDefinition,
};

/** Every upm.io kind, in the order discovery lists them. */
export const upmResources: ResourceDefinition[] = [
  unitSetDefinition,
  unitDefinition,
  unitTemplateDefinition,
  sidecarSetDefinition,
  mysqlReplicationDefinition,
  redisReplicationDefinition,
  redisClusterDefinition,
  proxysqlSyncDefinition,
];
