// The resources the controllers read and write, as the API serves them.

import { upmGroup, upmVersion } from '../api/common.js';
import type { ResourceType } from './runtime/client.js';

const upm = (resource: string, kind: string, namespaced = true): ResourceType => ({
  group: upmGroup,
  version: upmVersion,
  resource,
  kind,
  namespaced,
});
const core = (resource: string, kind: string, namespaced = true): ResourceType => ({
  group: '',
  version: 'v1',
  resource,
  kind,
  namespaced,
});

export const unitSets = upm('unitsets', 'UnitSet');
export const units = upm('units', 'Unit');
export const unitTemplates = upm('unittemplates', 'UnitTemplate', false);
export const redisReplications = upm('redisreplications', 'RedisReplication');
export const pods = core('pods', 'Pod');
export const services = core('services', 'Service');
export const configMaps = core('configmaps', 'ConfigMap');
export const secrets = core('secrets', 'Secret');
export const persistentVolumeClaims = core('persistentvolumeclaims', 'PersistentVolumeClaim');
export const podDisruptionBudgets: ResourceType = {
  group: 'policy',
  version: 'v1',
  resource: 'poddisruptionbudgets',
  kind: 'PodDisruptionBudget',
  namespaced: true,
};
export const mysqlReplications = upm('mysqlreplications', 'MysqlReplication');
export const proxysqlSyncs = upm('proxysqlsyncs', 'ProxysqlSync');
