// Row 7: figures that need the controllers, which do not exist yet. Each is a row without a
// value so the table shows what is still to measure; the issue that adds the controllers
// replaces these with suites that measure them (see bench/README.md, "Adding a suite").

import { row, type Row, type Suite } from '../lib/types.js';

const pending = 'not measured yet (issue: controllers)';

export const controllersSuite: Suite = {
  name: 'controllers',
  scope: 'global',
  async run() {
    const rows: Row[] = [];
    for (const n of [10, 100, 500]) {
      rows.push(
        row(this.name, null, `Tesseract Cube convergence: ${n} UnitSets × 3 Units`, null, 's', null, null, pending),
      );
    }
    return rows;
  },
};

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
      row(this.name, null, 'Kauntlet switchover RTO (planned)', null, 's', null, null, pending),
      row(this.name, null, 'Kauntlet failover RTO (primary killed)', null, 's', null, null, pending),
      row(this.name, null, 'Kauntlet failover RPO (primary killed)', null, 'writes lost', null, null, pending),
    ];
  },
};
