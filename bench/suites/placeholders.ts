// Figures of controllers that do not exist yet (Kauntlet). Each is a row without a value so the
// table shows what is still to measure; the issue that adds them replaces these with suites
// that measure them (see bench/README.md, "Adding a suite").

import { row, type Suite } from '../lib/types.js';

const pending = 'not measured yet (issues: Kauntlet MySQL, Kauntlet Redis)';

export const kauntletSuite: Suite = {
  name: 'kauntlet',
  scope: 'global',
  async run() {
    return [
      row(
        this.name,
        null,
        'Redis Cluster formation (6 Units, 3 shards)',
        null,
        's',
        'redis-cli --cluster create',
        null,
        pending,
      ),
      row(this.name, null, 'Kauntlet MySQL switchover RTO (planned)', null, 's', null, null, pending),
      row(this.name, null, 'Kauntlet MySQL failover RTO (primary killed)', null, 's', null, null, pending),
      row(this.name, null, 'Kauntlet MySQL failover RPO (primary killed)', null, 'writes lost', null, null, pending),
    ];
  },
};
