import { InMemoryRBACSource, RBACAuthorizer, aggregateClusterRoles, aggregatedRules } from './rbac.js';
import { labelSelectorMatcher } from '../../machinery/labels.js';
import { clusterRole, clusterRoleBinding, resourceAttrs, roleBinding, userSubject } from './testing/builders.js';
import type { ClusterRole, PolicyRule } from './types.js';

const AGG_VIEW = 'rbac.authorization.k8s.io/aggregate-to-view';
const AGG_EDIT = 'rbac.authorization.k8s.io/aggregate-to-edit';

const readUnitsets: PolicyRule = { verbs: ['get', 'list', 'watch'], apiGroups: ['upm.io'], resources: ['unitsets'] };
const writeUnitsets: PolicyRule = {
  verbs: ['create', 'update', 'patch', 'delete'],
  apiGroups: ['upm.io'],
  resources: ['unitsets'],
};
const readUnits: PolicyRule = { verbs: ['get'], apiGroups: ['upm.io'], resources: ['units'] };

function aggregated(name: string, selectors: ClusterRole['aggregationRule'], rules: PolicyRule[] = []): ClusterRole {
  return { kind: 'ClusterRole', metadata: { name }, aggregationRule: selectors, rules };
}

describe('labelSelectorMatcher (metav1.LabelSelector)', () => {
  it('matchLabels: every pair must be present and equal', () => {
    const m = labelSelectorMatcher({ matchLabels: { a: '1', b: '2' } });
    expect(m({ a: '1', b: '2', c: '3' })).toBe(true);
    expect(m({ a: '1' })).toBe(false);
    expect(m({ a: '1', b: '3' })).toBe(false);
    expect(m(undefined)).toBe(false);
  });

  it('matchExpressions In / NotIn / Exists / DoesNotExist', () => {
    const inM = labelSelectorMatcher({ matchExpressions: [{ key: 'tier', operator: 'In', values: ['db', 'cache'] }] });
    expect(inM({ tier: 'db' })).toBe(true);
    expect(inM({ tier: 'web' })).toBe(false);
    expect(inM({})).toBe(false);

    const notIn = labelSelectorMatcher({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['web'] }] });
    expect(notIn({ tier: 'db' })).toBe(true);
    expect(notIn({})).toBe(true); // a missing label is "not in"
    expect(notIn({ tier: 'web' })).toBe(false);

    const exists = labelSelectorMatcher({ matchExpressions: [{ key: 'tier', operator: 'Exists' }] });
    expect(exists({ tier: '' })).toBe(true);
    expect(exists({ other: 'x' })).toBe(false);

    const absent = labelSelectorMatcher({ matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] });
    expect(absent({ other: 'x' })).toBe(true);
    expect(absent({ tier: 'db' })).toBe(false);
  });

  it('matchLabels and matchExpressions are ANDed', () => {
    const m = labelSelectorMatcher({ matchLabels: { a: '1' }, matchExpressions: [{ key: 'b', operator: 'Exists' }] });
    expect(m({ a: '1', b: 'x' })).toBe(true);
    expect(m({ a: '1' })).toBe(false);
    expect(m({ b: 'x' })).toBe(false);
  });

  it('{} selects everything, a missing selector nothing', () => {
    expect(labelSelectorMatcher({})({})).toBe(true);
    expect(labelSelectorMatcher({ matchLabels: {}, matchExpressions: [] })({ x: 'y' })).toBe(true);
    expect(labelSelectorMatcher(undefined)({ x: 'y' })).toBe(false);
    expect(labelSelectorMatcher(null)({})).toBe(false);
  });

  it('rejects invalid selectors like LabelSelectorAsSelector', () => {
    expect(() => labelSelectorMatcher({ matchExpressions: [{ key: 'a', operator: 'Equals', values: ['x'] }] })).toThrow(
      '"Equals" is not a valid label selector operator',
    );
    expect(() => labelSelectorMatcher({ matchExpressions: [{ key: 'a', operator: 'In', values: [] }] })).toThrow(
      /can't be empty/,
    );
    expect(() => labelSelectorMatcher({ matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] })).toThrow(
      /must be empty/,
    );
    expect(() => labelSelectorMatcher({ matchLabels: { 'bad key!': 'x' } })).toThrow(/name part/);
    expect(() => labelSelectorMatcher({ matchLabels: { a: 'bad value!' } })).toThrow(/valid label/);
    expect(() => labelSelectorMatcher({ matchLabels: { 'Example.com/a': 'x' } })).toThrow(/prefix/);
    expect(() => labelSelectorMatcher({ matchLabels: { 'example.com/a': '' } })).not.toThrow();
  });
});

describe('ClusterRole aggregation', () => {
  const viewUpm = clusterRole('upm-view', [readUnitsets], { [AGG_VIEW]: 'true' });
  const viewUnits = clusterRole('a-units-view', [readUnits], { [AGG_VIEW]: 'true' });
  const editUpm = clusterRole('upm-edit', [writeUnitsets], { [AGG_EDIT]: 'true' });
  const unrelated = clusterRole('unrelated', [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }], {
    [AGG_VIEW]: 'false',
  });

  it('unions the rules of every matching ClusterRole, sorted by name, replacing the own rules', () => {
    const view = aggregated('view', { clusterRoleSelectors: [{ matchLabels: { [AGG_VIEW]: 'true' } }] }, [
      { verbs: ['stale'] },
    ]);
    const { rules, errors } = aggregatedRules(view, [view, viewUpm, editUpm, unrelated, viewUnits]);
    expect(errors).toEqual([]);
    expect(rules).toEqual([readUnits, readUnitsets]); // a-units-view before upm-view
  });

  it('a role matching several selectors contributes once; selectors are processed in order', () => {
    const both = aggregated('both', {
      clusterRoleSelectors: [
        { matchLabels: { [AGG_EDIT]: 'true' } },
        { matchExpressions: [{ key: AGG_VIEW, operator: 'In', values: ['true'] }] },
      ],
    });
    const dup = clusterRole('z-dup', [writeUnitsets], { [AGG_VIEW]: 'true' });
    const { rules } = aggregatedRules(both, [both, viewUpm, editUpm, viewUnits, dup]);
    expect(rules).toEqual([writeUnitsets, readUnits, readUnitsets]);
  });

  it('matchExpressions select aggregated roles (NotIn, Exists)', () => {
    const agg = aggregated('agg', {
      clusterRoleSelectors: [
        {
          matchExpressions: [
            { key: AGG_VIEW, operator: 'Exists' },
            { key: AGG_VIEW, operator: 'NotIn', values: ['false'] },
          ],
        },
      ],
    });
    const { rules } = aggregatedRules(agg, [agg, viewUpm, editUpm, unrelated]);
    expect(rules).toEqual([readUnitsets]);
  });

  it('aggregates transitively (nested aggregated roles contribute their aggregated rules)', () => {
    const edit = aggregated('edit', { clusterRoleSelectors: [{ matchLabels: { [AGG_EDIT]: 'true' } }] });
    const editAsView: ClusterRole = { ...edit, metadata: { name: 'edit', labels: { [AGG_VIEW]: 'true' } } };
    const admin = aggregated('admin', { clusterRoleSelectors: [{ matchLabels: { [AGG_VIEW]: 'true' } }] });
    const { rules } = aggregatedRules(admin, [admin, editAsView, editUpm, viewUpm]);
    expect(rules).toEqual([writeUnitsets, readUnitsets]);
  });

  it('survives aggregation cycles', () => {
    const a: ClusterRole = {
      ...aggregated('a', { clusterRoleSelectors: [{ matchLabels: { to: 'a' } }] }),
      metadata: { name: 'a', labels: { to: 'b' } },
    };
    const b: ClusterRole = {
      ...aggregated('b', { clusterRoleSelectors: [{ matchLabels: { to: 'b' } }] }),
      metadata: { name: 'b', labels: { to: 'a' } },
    };
    const leaf = clusterRole('leaf', [readUnits], { to: 'b' });
    expect(aggregatedRules(a, [a, b, leaf]).rules).toEqual([readUnits]);
    expect(aggregatedRules(b, [a, b, leaf]).rules).toEqual([readUnits]);
    const leafA = clusterRole('leaf-a', [readUnitsets], { to: 'a' });
    expect(aggregatedRules(a, [a, b, leaf, leafA]).rules).toEqual([readUnits, readUnitsets]);
  });

  it('an invalid selector keeps the stored rules and reports an error', () => {
    const bad = aggregated('bad', { clusterRoleSelectors: [{ matchExpressions: [{ key: 'x', operator: 'Nope' }] }] }, [
      readUnits,
    ]);
    const { rules, errors } = aggregatedRules(bad, [bad, viewUpm]);
    expect(rules).toEqual([readUnits]);
    expect(errors).toEqual([
      'clusterrole "bad": aggregationRule.clusterRoleSelectors[0]: "Nope" is not a valid label selector operator',
    ]);
  });

  it('aggregateClusterRoles rewrites only aggregated roles', () => {
    const view = aggregated('view', { clusterRoleSelectors: [{ matchLabels: { [AGG_VIEW]: 'true' } }] });
    const out = aggregateClusterRoles([view, viewUpm, editUpm]);
    expect(out[0].rules).toEqual([readUnitsets]);
    expect(out[1]).toBe(viewUpm);
    expect(out[2]).toBe(editUpm);
    expect(view.rules).toEqual([]); // input untouched
  });

  it('the authorizer resolves aggregation at evaluation time (and sees later changes)', () => {
    const view = aggregated('view', { clusterRoleSelectors: [{ matchLabels: { [AGG_VIEW]: 'true' } }] });
    const src = new InMemoryRBACSource({
      clusterRoles: [view, viewUpm],
      roleBindings: [roleBinding('ns', 'alice-view', 'ClusterRole', 'view', [userSubject('alice')])],
    });
    const authz = new RBACAuthorizer(src);
    expect(authz.authorize(resourceAttrs())).toEqual({
      decision: 'Allow',
      reason: 'RBAC: allowed by RoleBinding "alice-view/ns" of ClusterRole "view" to User "alice"',
    });
    expect(authz.authorize(resourceAttrs({ resource: 'units' })).decision).toBe('NoOpinion');
    src.putClusterRole(viewUnits);
    expect(authz.authorize(resourceAttrs({ resource: 'units' })).decision).toBe('Allow');
    // Editing the label away removes the grant.
    src.putClusterRole({ ...viewUpm, metadata: { name: 'upm-view', labels: {} } });
    expect(authz.authorize(resourceAttrs()).decision).toBe('NoOpinion');
  });

  it("the aggregated role's own rules don't count when resolving", () => {
    const view = aggregated('view', { clusterRoleSelectors: [{ matchLabels: { [AGG_VIEW]: 'true' } }] }, [
      writeUnitsets,
    ]);
    const src = new InMemoryRBACSource({
      clusterRoles: [view, viewUpm],
      clusterRoleBindings: [clusterRoleBinding('alice-view', 'view', [userSubject('alice')])],
    });
    expect(new RBACAuthorizer(src).authorize(resourceAttrs({ verb: 'delete' })).decision).toBe('NoOpinion');
    // ...but 'stored' mode trusts them, as written by kube's controller.
    expect(
      new RBACAuthorizer(src, { aggregation: 'stored' }).authorize(resourceAttrs({ verb: 'delete' })).decision,
    ).toBe('Allow');
    expect(new RBACAuthorizer(src, { aggregation: 'stored' }).authorize(resourceAttrs()).decision).toBe('NoOpinion');
  });
});
