import type { KubeObject } from '../../machinery/object.js';
import {
  isExemptAdmissionConfigurationResource,
  matchNamespaceSelector,
  matchObjectSelector,
  ruleMatches,
  shouldCallWebhook,
  type MatchAttributes,
} from './matching.js';
import type { RuleWithOperations, ValidatingWebhook } from './types.js';

function req(over: Partial<MatchAttributes> = {}): MatchAttributes {
  return {
    operation: 'CREATE',
    kind: { group: '', version: 'v1', kind: 'Pod' },
    resource: { group: '', version: 'v1', resource: 'pods' },
    subResource: '',
    namespace: 'default',
    name: 'p',
    object: obj('p'),
    oldObject: null,
    ...over,
  };
}

function obj(name: string, labels?: Record<string, string>): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, ...(labels ? { labels } : {}) } };
}

const rule = (over: Partial<RuleWithOperations> = {}): RuleWithOperations => ({
  operations: ['*'],
  apiGroups: ['*'],
  apiVersions: ['*'],
  resources: ['*'],
  ...over,
});

function webhook(over: Partial<ValidatingWebhook> = {}): ValidatingWebhook {
  return {
    name: 'w.upm.io',
    clientConfig: { url: 'https://x' },
    rules: [rule()],
    sideEffects: 'None',
    admissionReviewVersions: ['v1'],
    ...over,
  };
}

describe('ruleMatches', () => {
  it('operations: listed ones and *', () => {
    expect(ruleMatches(rule({ operations: ['CREATE'] }), req())).toBe(true);
    expect(ruleMatches(rule({ operations: ['UPDATE', 'DELETE'] }), req())).toBe(false);
    expect(ruleMatches(rule({ operations: ['UPDATE', 'DELETE'] }), req({ operation: 'DELETE' }))).toBe(true);
    expect(ruleMatches(rule({ operations: ['*'] }), req({ operation: 'CONNECT' }))).toBe(true);
    expect(ruleMatches(rule({ operations: [] }), req())).toBe(false);
  });

  it('apiGroups and apiVersions: exact or *; "" is the core group', () => {
    const upm = req({ resource: { group: 'upm.io', version: 'v1alpha1', resource: 'unitsets' } });
    expect(ruleMatches(rule({ apiGroups: [''] }), req())).toBe(true);
    expect(ruleMatches(rule({ apiGroups: [''] }), upm)).toBe(false);
    expect(ruleMatches(rule({ apiGroups: ['apps', 'upm.io'] }), upm)).toBe(true);
    expect(ruleMatches(rule({ apiVersions: ['v1'] }), upm)).toBe(false);
    expect(ruleMatches(rule({ apiVersions: ['v1', 'v1alpha1'] }), upm)).toBe(true);
  });

  it('resources: names, subresources and wildcards', () => {
    const status = req({ operation: 'UPDATE', subResource: 'status' });
    const exec = req({ operation: 'CONNECT', subResource: 'exec' });
    const cases: [string, MatchAttributes, boolean][] = [
      ['pods', req(), true],
      ['pods', status, false],
      ['pods/status', status, true],
      ['pods/status', req(), false],
      // kube: a `*` subresource also matches the main resource (subMatch := sub == "*" || ...)
      ['pods/*', req(), true],
      ['pods/*', status, true],
      ['pods/*', exec, true],
      ['*/status', status, true],
      ['*/status', exec, false],
      ['*', req(), true],
      ['*', status, false],
      ['*/*', status, true],
      ['*/*', req(), true],
      ['deployments', req(), false],
      ['deployments/status', status, false],
    ];
    for (const [resource, attrs, want] of cases) {
      expect([resource, attrs.subResource, ruleMatches(rule({ resources: [resource] }), attrs)]).toEqual([
        resource,
        attrs.subResource,
        want,
      ]);
    }
    expect(ruleMatches(rule({ resources: ['deployments', 'pods/status'] }), status)).toBe(true);
  });

  it('scope: Namespaced, Cluster, * (namespaces are cluster-scoped)', () => {
    const cluster = req({ namespace: '', resource: { group: 'upm.io', version: 'v1', resource: 'clusterthings' } });
    const nsObject = req({
      namespace: 'team-a',
      name: 'team-a',
      resource: { group: '', version: 'v1', resource: 'namespaces' },
    });
    expect(ruleMatches(rule({ scope: 'Namespaced' }), req())).toBe(true);
    expect(ruleMatches(rule({ scope: 'Namespaced' }), cluster)).toBe(false);
    expect(ruleMatches(rule({ scope: 'Namespaced' }), nsObject)).toBe(false);
    expect(ruleMatches(rule({ scope: 'Cluster' }), req())).toBe(false);
    expect(ruleMatches(rule({ scope: 'Cluster' }), cluster)).toBe(true);
    expect(ruleMatches(rule({ scope: 'Cluster' }), nsObject)).toBe(true);
    expect(ruleMatches(rule({ scope: '*' }), cluster)).toBe(true);
    expect(ruleMatches(rule({ scope: undefined }), req())).toBe(true);
  });
});

describe('matchNamespaceSelector', () => {
  const labels: Record<string, Record<string, string>> = { prod: { env: 'prod' }, dev: { env: 'dev' } };
  const calls: string[][] = [];
  const lookup = Object.assign((name: string) => (calls.push([name]), labels[name]), { mock: { calls } });
  const prodOnly = webhook({ namespaceSelector: { matchLabels: { env: 'prod' } } });

  beforeEach(() => {
    calls.length = 0;
  });

  it('matches namespaced requests by their namespace labels', async () => {
    expect(await matchNamespaceSelector(prodOnly, req({ namespace: 'prod' }), lookup)).toEqual({ matches: true });
    expect(await matchNamespaceSelector(prodOnly, req({ namespace: 'dev' }), lookup)).toEqual({ matches: false });
    expect(lookup.mock.calls).toEqual([['prod'], ['dev']]);
    const notProd = webhook({
      namespaceSelector: { matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['prod'] }] },
    });
    expect((await matchNamespaceSelector(notProd, req({ namespace: 'dev' }), lookup)).matches).toBe(true);
  });

  it('an empty or missing selector matches without looking the namespace up', async () => {
    expect(
      await matchNamespaceSelector(webhook({ namespaceSelector: {} }), req({ namespace: 'ghost' }), lookup),
    ).toEqual({ matches: true });
    expect(await matchNamespaceSelector(webhook(), req({ namespace: 'ghost' }), lookup)).toEqual({ matches: true });
    expect(calls).toEqual([]);
  });

  it('cluster-scoped objects always match', async () => {
    const r = req({ namespace: '', resource: { group: 'upm.io', version: 'v1', resource: 'clusterthings' } });
    expect(await matchNamespaceSelector(prodOnly, r, lookup)).toEqual({ matches: true });
    expect(calls).toEqual([]);
  });

  it('a Namespace being created or updated is matched by its own new labels; deleted, by the stored ones', async () => {
    const ns = (l: Record<string, string>): KubeObject => ({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'dev', labels: l },
    });
    const nsReq = (over: Partial<MatchAttributes>) =>
      req({
        namespace: '',
        name: 'dev',
        resource: { group: '', version: 'v1', resource: 'namespaces' },
        kind: { group: '', version: 'v1', kind: 'Namespace' },
        ...over,
      });
    expect(
      (await matchNamespaceSelector(prodOnly, nsReq({ operation: 'CREATE', object: ns({ env: 'prod' }) }), lookup))
        .matches,
    ).toBe(true);
    expect(
      (
        await matchNamespaceSelector(
          prodOnly,
          nsReq({ operation: 'UPDATE', object: ns({ env: 'prod' }), oldObject: ns({ env: 'dev' }) }),
          lookup,
        )
      ).matches,
    ).toBe(true);
    expect(calls).toEqual([]);
    expect(
      (
        await matchNamespaceSelector(
          prodOnly,
          nsReq({ operation: 'DELETE', object: null, oldObject: ns({ env: 'prod' }) }),
          lookup,
        )
      ).matches,
    ).toBe(false);
    expect(lookup.mock.calls).toEqual([['dev']]);
  });

  it('a missing namespace is a 404; an invalid selector a 500', async () => {
    const missing = await matchNamespaceSelector(prodOnly, req({ namespace: 'ghost' }), lookup);
    expect(missing.matches).toBe(false);
    expect(missing.error?.code).toBe(404);
    expect(missing.error?.message).toBe('namespaces "ghost" not found');
    const bad = await matchNamespaceSelector(
      webhook({ namespaceSelector: { matchExpressions: [{ key: 'env', operator: 'Near', values: ['x'] }] } }),
      req(),
      lookup,
    );
    expect(bad.error?.code).toBe(500);
    expect(bad.error?.message).toBe('Internal error occurred: "Near" is not a valid label selector operator');
  });
});

describe('matchObjectSelector', () => {
  const dbOnly = webhook({ objectSelector: { matchLabels: { tier: 'db' } } });

  it('matches when the new or the old object matches', () => {
    expect(matchObjectSelector(dbOnly, req({ object: obj('p', { tier: 'db' }) })).matches).toBe(true);
    expect(matchObjectSelector(dbOnly, req({ object: obj('p', { tier: 'web' }) })).matches).toBe(false);
    expect(
      matchObjectSelector(
        dbOnly,
        req({ operation: 'UPDATE', object: obj('p', { tier: 'web' }), oldObject: obj('p', { tier: 'db' }) }),
      ).matches,
    ).toBe(true);
    expect(
      matchObjectSelector(dbOnly, req({ operation: 'DELETE', object: null, oldObject: obj('p', { tier: 'db' }) }))
        .matches,
    ).toBe(true);
    expect(matchObjectSelector(dbOnly, req({ operation: 'DELETE', object: null, oldObject: obj('p') })).matches).toBe(
      false,
    );
  });

  it('an empty selector matches everything, even without objects', () => {
    expect(matchObjectSelector(webhook({ objectSelector: {} }), req({ object: null })).matches).toBe(true);
    const notDB = webhook({ objectSelector: { matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] } });
    expect(matchObjectSelector(notDB, req({ object: obj('p') })).matches).toBe(true);
    expect(matchObjectSelector(notDB, req({ object: null, oldObject: null })).matches).toBe(false);
  });
});

describe('shouldCallWebhook', () => {
  const none = () => undefined;

  it('selector errors surface only when a rule matches', async () => {
    const bad = { namespaceSelector: { matchLabels: { 'bad key!': 'x' } } };
    const matching = await shouldCallWebhook(webhook(bad), req(), { namespaceLabels: none });
    expect(matching).toMatchObject({ call: false, error: { code: 500 } });
    const notMatching = await shouldCallWebhook(
      webhook({ ...bad, rules: [rule({ resources: ['deployments'] })] }),
      req(),
      { namespaceLabels: none },
    );
    expect(notMatching).toEqual({ call: false, reason: 'rules' });
    // a missing namespace is not an error for webhooks whose rules do not match
    const prod = { namespaceSelector: { matchLabels: { env: 'prod' } } };
    expect(
      await shouldCallWebhook(
        webhook({ ...prod, rules: [rule({ operations: ['DELETE'] })] }),
        req({ namespace: 'ghost' }),
        { namespaceLabels: none },
      ),
    ).toEqual({ call: false, reason: 'rules' });
    expect(
      await shouldCallWebhook(webhook(prod), req({ namespace: 'ghost' }), { namespaceLabels: none }),
    ).toMatchObject({ error: { code: 404 } });
  });

  it('reports why a webhook is skipped', async () => {
    const labels = () => ({ env: 'dev' });
    expect(
      await shouldCallWebhook(webhook({ namespaceSelector: { matchLabels: { env: 'prod' } } }), req(), {
        namespaceLabels: labels,
      }),
    ).toEqual({ call: false, reason: 'namespaceSelector' });
    expect(
      await shouldCallWebhook(webhook({ objectSelector: { matchLabels: { a: 'b' } } }), req(), {
        namespaceLabels: labels,
      }),
    ).toEqual({ call: false, reason: 'objectSelector' });
    expect(await shouldCallWebhook(webhook(), req(), { namespaceLabels: labels })).toEqual({
      call: true,
      unevaluatedConditions: 0,
    });
  });

  it('matchConditions: evaluated by default (false skips, an error follows failurePolicy); or call / error policies', async () => {
    const w = webhook({
      matchConditions: [
        { name: 'a', expression: 'true' },
        { name: 'b', expression: 'false' },
      ],
    });
    expect(await shouldCallWebhook(w, req(), { namespaceLabels: none })).toEqual({
      call: false,
      reason: 'matchConditions',
    });
    const allTrue = webhook({ matchConditions: [{ name: 'a', expression: "request.operation == 'CREATE'" }] });
    expect(await shouldCallWebhook(allTrue, req(), { namespaceLabels: none })).toEqual({
      call: true,
      unevaluatedConditions: 0,
    });
    const broken = webhook({ matchConditions: [{ name: 'bad', expression: 'nosuch(object)' }] });
    expect(await shouldCallWebhook(broken, req(), { namespaceLabels: none })).toMatchObject({
      call: false,
      error: {
        code: 403,
        reason: 'Forbidden',
        message: expect.stringMatching(/failed to evaluate matchConditions of webhook/),
      },
    });
    expect(await shouldCallWebhook({ ...broken, failurePolicy: 'Ignore' }, req(), { namespaceLabels: none })).toEqual({
      call: false,
      reason: 'matchConditions',
    });
    expect(await shouldCallWebhook(w, req(), { namespaceLabels: none, matchConditionsPolicy: 'call' })).toEqual({
      call: true,
      unevaluatedConditions: 2,
    });
    const failed = await shouldCallWebhook(w, req(), { namespaceLabels: none, matchConditionsPolicy: 'error' });
    expect(failed).toMatchObject({ call: false, error: { code: 403, reason: 'Forbidden' } });
    expect(
      await shouldCallWebhook({ ...w, failurePolicy: 'Ignore' }, req(), {
        namespaceLabels: none,
        matchConditionsPolicy: 'error',
      }),
    ).toEqual({ call: false, reason: 'matchConditions' });
  });
});

describe('isExemptAdmissionConfigurationResource', () => {
  it('exempts the admissionregistration configuration kinds only', () => {
    for (const kind of [
      'ValidatingWebhookConfiguration',
      'MutatingWebhookConfiguration',
      'ValidatingAdmissionPolicy',
      'ValidatingAdmissionPolicyBinding',
      'MutatingAdmissionPolicy',
      'MutatingAdmissionPolicyBinding',
    ]) {
      expect(
        isExemptAdmissionConfigurationResource({ group: 'admissionregistration.k8s.io', version: 'v1', kind }),
      ).toBe(true);
    }
    expect(
      isExemptAdmissionConfigurationResource({
        group: 'upm.io',
        version: 'v1',
        kind: 'ValidatingWebhookConfiguration',
      }),
    ).toBe(false);
    expect(
      isExemptAdmissionConfigurationResource({ group: 'admissionregistration.k8s.io', version: 'v1', kind: 'Other' }),
    ).toBe(false);
  });
});
