import type { V1Pod } from '@kubernetes/client-node';
import type { Unit, UnitSet } from '../../../api/generated/types.js';
import { classifyChange, classifyPodChange } from './change.js';
import { renderConfig } from './config.js';
import { pod } from './pod.js';
import { unitsFor } from './units.js';
import { testTemplate, testUnitSet } from './testing/fixtures.js';

const unitOf = (us: UnitSet, template = testTemplate()): Unit => unitsFor(us, template).units[0];
const podOf = (unit: Unit, template = testTemplate()): V1Pod => {
  const r = renderConfig(unit, template);
  if (!r.ok) throw new Error('render failed');
  return pod(unit, template, r.config);
};
const withParams = (parameters: Record<string, string>) => testUnitSet({ config: { parameters } });

describe('classifyChange (Unit to Unit)', () => {
  it('finds nothing to do for the same Unit', () => {
    const c = classifyChange(unitOf(testUnitSet()), unitOf(testUnitSet()), testTemplate());
    expect(c).toEqual({
      kind: 'None',
      changes: [],
      dynamicParameters: [],
      restartParameters: [],
      immutableParameters: [],
    });
  });

  it('applies dynamic parameters without disruption', () => {
    const c = classifyChange(
      unitOf(testUnitSet()),
      unitOf(withParams({ max_connections: '3000', binlog_format: 'MIXED' })),
      testTemplate(),
    );
    expect(c.kind).toBe('NonDisruptive');
    expect(c.dynamicParameters).toEqual(['binlog_format', 'max_connections']);
    expect(c.changes.map((x) => x.reason)).toEqual(['DynamicParameterChanged']);
  });

  it('replaces the Pod for a parameter that needs a restart', () => {
    const c = classifyChange(
      unitOf(testUnitSet()),
      unitOf(withParams({ performance_schema: 'true', max_connections: '50' })),
      testTemplate(),
    );
    expect(c.kind).toBe('Disruptive');
    expect(c.restartParameters).toEqual(['performance_schema']);
    expect(c.dynamicParameters).toEqual(['max_connections']);
  });

  it('lists immutable parameters so the change can be refused', () => {
    const c = classifyChange(
      unitOf(testUnitSet()),
      unitOf(withParams({ lower_case_table_names: '1' })),
      testTemplate(),
    );
    expect(c.immutableParameters).toEqual(['lower_case_table_names']);
  });

  it('replaces the Pod for an image or resource change, not for labels or volume growth', () => {
    const newImage = testTemplate();
    (newImage.spec.podTemplate.spec as any).containers[0].image = 'mariadb:10.11.9';
    const image = classifyChange(unitOf(testUnitSet()), unitOf(testUnitSet(), newImage), testTemplate());
    expect(image.kind).toBe('Disruptive');
    expect(image.changes).toContainEqual({
      reason: 'ImageChanged',
      message: 'mariadb: mariadb:10.11.8 → mariadb:10.11.9',
      disruptive: true,
    });

    const resources = classifyChange(
      unitOf(testUnitSet()),
      unitOf(testUnitSet({ resources: { limits: { memory: '4Gi' } } })),
      testTemplate(),
    );
    expect(resources.changes.map((x) => x.reason)).toEqual(['ResourcesChanged']);
    // The same quantity spelt differently is no change.
    const same = classifyChange(
      unitOf(testUnitSet({ resources: { limits: { memory: '2048Mi' } } })),
      unitOf(testUnitSet()),
      testTemplate(),
    );
    expect(same.kind).toBe('None');

    const labels = classifyChange(
      unitOf(testUnitSet()),
      unitOf(testUnitSet({ podMetadata: { labels: { tier: 'x' } } })),
      testTemplate(),
    );
    expect(labels.kind).toBe('NonDisruptive');
    expect(labels.changes.map((x) => x.reason)).toEqual(['MetadataChanged']);

    const grow = classifyChange(
      unitOf(testUnitSet()),
      unitOf(testUnitSet({ storage: { volumes: [{ name: 'data', size: '20Gi' }] } })),
      testTemplate(),
    );
    expect(grow.kind).toBe('NonDisruptive');
    expect(grow.changes).toEqual([{ reason: 'VolumeExpanded', message: 'data: 10Gi → 20Gi', disruptive: false }]);
  });

  it('replaces the Pod when the config file templates change', () => {
    const changed = testTemplate();
    changed.spec.configFiles![0].template += 'skip_name_resolve = ON\n';
    const c = classifyChange(unitOf(testUnitSet()), unitOf(testUnitSet(), changed), changed);
    expect(c.kind).toBe('Disruptive');
    expect(c.changes.map((x) => x.reason)).toEqual(['ConfigTemplateChanged']);
  });
});

describe('classifyPodChange (running Pod to desired Pod)', () => {
  const running = podOf(unitOf(testUnitSet()));

  it('finds nothing to do for the same Pod, even with labels others added', () => {
    const current = structuredClone(running);
    current.metadata!.labels!['upm.io/role'] = 'primary';
    current.metadata!.annotations!['kubectl.kubernetes.io/restartedAt'] = 'x';
    expect(classifyPodChange(current, running).kind).toBe('None');
  });

  it('updates the config revision in place for a dynamic parameter', () => {
    const c = classifyPodChange(running, podOf(unitOf(withParams({ max_connections: '3000' }))));
    expect(c.kind).toBe('NonDisruptive');
    expect(c.changes.map((x) => x.reason)).toEqual(['ConfigChanged']);
  });

  it('replaces the Pod for a restart parameter, naming it', () => {
    const c = classifyPodChange(running, podOf(unitOf(withParams({ performance_schema: 'true' }))));
    expect(c.kind).toBe('Disruptive');
    expect(c.restartParameters).toEqual(['performance_schema']);
    expect(c.changes.map((x) => x.reason)).toEqual(['RestartParameterChanged', 'ConfigChanged']);
  });

  it('replaces the Pod for a new image or new resources', () => {
    const t = testTemplate();
    (t.spec.podTemplate.spec as any).containers[0].image = 'mariadb:10.11.9';
    const image = classifyPodChange(running, podOf(unitOf(testUnitSet(), t), t));
    expect(image.changes.map((x) => x.reason)).toEqual(['ImageChanged']);
    const resources = classifyPodChange(running, podOf(unitOf(testUnitSet({ resources: { limits: { cpu: '4' } } }))));
    expect(resources.kind).toBe('Disruptive');
    expect(resources.changes.map((x) => x.reason)).toContain('ResourcesChanged');
  });

  it('updates labels in place', () => {
    const c = classifyPodChange(running, podOf(unitOf(testUnitSet({ podMetadata: { labels: { tier: 'gold' } } }))));
    expect(c.kind).toBe('NonDisruptive');
    expect(c.changes.map((x) => x.reason)).toEqual(['MetadataChanged']);
  });

  it('replaces a Pod that carries no revision (made by someone else)', () => {
    const foreign = structuredClone(running);
    delete foreign.metadata!.annotations!['upm.io/restart-revision'];
    expect(classifyPodChange(foreign, running).kind).toBe('Disruptive');
  });
});
