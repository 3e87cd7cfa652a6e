// The suite registry: the table lists rows in this order. To add figures, write a module in
// this folder exporting a Suite and append it here (see bench/README.md).

import type { Suite } from '../lib/types.js';
import { getSuite } from './get.js';
import { list10kSuite } from './list10k.js';
import { listSuite } from './list.js';
import { memorySuite } from './memory.js';
import { crdSuite } from './crd.js';
import { cubeSuite } from './cube.js';
import { localUnitsSuite } from './local-units.js';
import { mysqlSuite } from './mysql.js';
import { proxysqlSuite } from './proxysql.js';
import { redisSuite } from './redis.js';
import { redisClusterSuite } from './rediscluster.js';
import { watchSuite } from './watch.js';
import { writesSuite } from './writes.js';

export const suites: Suite[] = [
  getSuite,
  listSuite,
  writesSuite,
  list10kSuite,
  watchSuite,
  memorySuite,
  crdSuite,
  cubeSuite,
  localUnitsSuite,
  mysqlSuite,
  redisClusterSuite,
  proxysqlSuite,
  redisSuite,
];
