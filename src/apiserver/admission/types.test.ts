import { fieldErrorBody } from '../../machinery/errors.js';
import { createCA } from '../../pki/certs.js';
import {
  decodeCABundle,
  defaultMutatingWebhook,
  defaultValidatingWebhook,
  encodeCABundle,
  operationOptions,
  reviewUserInfo,
  validateWebhookConfiguration,
  withMutatingConfigurationDefaults,
  type MutatingWebhook,
  type MutatingWebhookConfiguration,
} from './types.js';

const ca = createCA('types-test');

function good(over: Partial<MutatingWebhook> = {}): MutatingWebhook {
  return {
    name: 'inject.upm.io',
    clientConfig: {
      service: { namespace: 'upm-system', name: 'upm-webhook', path: '/inject' },
      caBundle: encodeCABundle(ca.certPem),
    },
    rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
    sideEffects: 'None',
    admissionReviewVersions: ['v1'],
    ...over,
  };
}

function config(...webhooks: MutatingWebhook[]): MutatingWebhookConfiguration {
  return { metadata: { name: 'c' }, webhooks };
}

function rendered(c: MutatingWebhookConfiguration, mutating = true): string[] {
  return validateWebhookConfiguration(c, mutating).map((e) => `${e.field}: ${fieldErrorBody(e)}`);
}

describe('defaults', () => {
  it('fills the v1 defaults without touching the input', () => {
    const input = good({ clientConfig: { service: { namespace: 'n', name: 's' } } });
    const d = defaultMutatingWebhook(input);
    expect(d).toEqual({
      ...input,
      clientConfig: { service: { namespace: 'n', name: 's', port: 443 } },
      rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: '*' }],
      failurePolicy: 'Fail',
      matchPolicy: 'Equivalent',
      namespaceSelector: {},
      objectSelector: {},
      timeoutSeconds: 10,
      reinvocationPolicy: 'Never',
    });
    expect(input.failurePolicy).toBeUndefined();
    expect(input.clientConfig.service!.port).toBeUndefined();
    expect(defaultValidatingWebhook(input)).not.toHaveProperty('reinvocationPolicy');
  });

  it('keeps explicit values and does not default sideEffects or admissionReviewVersions', () => {
    const { sideEffects: _s, admissionReviewVersions: _a, ...rest } = good();
    const d = defaultMutatingWebhook({
      ...rest,
      failurePolicy: 'Ignore',
      timeoutSeconds: 3,
      reinvocationPolicy: 'IfNeeded',
      rules: [{ operations: ['*'], apiGroups: ['*'], apiVersions: ['*'], resources: ['*'], scope: 'Namespaced' }],
    });
    expect(d.failurePolicy).toBe('Ignore');
    expect(d.timeoutSeconds).toBe(3);
    expect(d.reinvocationPolicy).toBe('IfNeeded');
    expect(d.rules![0].scope).toBe('Namespaced');
    expect(d.sideEffects).toBeUndefined();
    expect(d.admissionReviewVersions).toBeUndefined();
    expect(withMutatingConfigurationDefaults({ metadata: { name: 'x' } }).webhooks).toEqual([]);
  });
});

describe('validateWebhookConfiguration', () => {
  it('accepts a good configuration', () => {
    expect(
      rendered(
        config(good(), good({ name: 'other.upm.io', clientConfig: { url: 'https://hooks.example.com:8443/x' } })),
      ),
    ).toEqual([]);
  });

  it('rejects what kube-apiserver rejects', () => {
    const errs = rendered(
      config(
        good({
          name: 'short.name',
          timeoutSeconds: 31,
          sideEffects: 'Some',
          failurePolicy: 'Maybe' as never,
          reinvocationPolicy: 'Always' as never,
        }),
        good({
          name: 'dup.upm.io',
          admissionReviewVersions: ['v2'],
          clientConfig: { url: 'http://x.example.com/a?b=c' },
        }),
        good({
          name: 'dup.upm.io',
          admissionReviewVersions: [],
          clientConfig: { service: { namespace: 'n', name: 's', path: 'nope', port: 0 } },
        }),
        good({
          name: 'rules.upm.io',
          clientConfig: {},
          rules: [
            {
              operations: ['*', 'CREATE'],
              apiGroups: [],
              apiVersions: ['v1'],
              resources: ['pods'],
              scope: 'Global' as never,
            },
          ],
        }),
        good({ name: 'sel.upm.io', objectSelector: { matchExpressions: [{ key: 'a', operator: 'In', values: [] }] } }),
      ),
    );
    expect(errs).toEqual([
      'webhooks[0].name: Invalid value: "short.name": should be a domain with at least three segments separated by dots',
      'webhooks[0].failurePolicy: Unsupported value: "Maybe": supported values: "Fail", "Ignore"',
      'webhooks[0].sideEffects: Unsupported value: "Some": supported values: "None", "NoneOnDryRun"',
      'webhooks[0].reinvocationPolicy: Unsupported value: "Always": supported values: "IfNeeded", "Never"',
      'webhooks[0].timeoutSeconds: Invalid value: 31: the timeout value must be between 1 and 30 seconds',
      'webhooks[1].admissionReviewVersions: Invalid value: ["v2"]: must include at least one of v1, v1beta1',
      `webhooks[1].clientConfig.url: Invalid value: "http://x.example.com/a?b=c": 'https' is the only allowed URL scheme`,
      'webhooks[1].clientConfig.url: Invalid value: "http://x.example.com/a?b=c": query parameters are not permitted in the URL',
      'webhooks[2].admissionReviewVersions: Required value: must specify one of v1, v1beta1',
      `webhooks[2].clientConfig.service.path: Invalid value: "nope": must start with a '/'`,
      'webhooks[2].clientConfig.service.port: Invalid value: 0: port is not valid: must be between 1 and 65535, inclusive',
      'webhooks[2].name: Duplicate value: "dup.upm.io"',
      `webhooks[3].rules[0].operations: Invalid value: ["*","CREATE"]: if '*' is present, must not specify other operations`,
      'webhooks[3].rules[0].apiGroups: Required value',
      'webhooks[3].rules[0].scope: Unsupported value: "Global": supported values: "Cluster", "Namespaced", "*"',
      'webhooks[3].clientConfig: Required value: exactly one of url or service is required',
      `webhooks[4].objectSelector: Invalid value: {"matchExpressions":[{"key":"a","operator":"In","values":[]}]}: values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty`,
    ]);
  });

  it('requires sideEffects, checks caBundle and matchConditions', () => {
    const { sideEffects: _s, ...noSideEffects } = good();
    const many = Array.from({ length: 65 }, (_, i) => ({ name: `c${i}`, expression: 'true' }));
    expect(
      rendered(
        config(
          { ...noSideEffects, clientConfig: { url: 'https://a.example.com', caBundle: 'not base64 !' } },
          good({
            name: 'mc.upm.io',
            matchConditions: [
              { name: 'x', expression: '' },
              { name: 'x', expression: 'true' },
            ],
          }),
          good({ name: 'many.upm.io', matchConditions: many }),
        ),
      ),
    ).toEqual([
      'webhooks[0].sideEffects: Required value: must specify one of None, NoneOnDryRun',
      'webhooks[0].clientConfig.caBundle: Invalid value: "(bytes)": must be base64 of a PEM-encoded certificate bundle',
      'webhooks[1].matchConditions[0].expression: Required value',
      'webhooks[1].matchConditions[1].name: Duplicate value: "x"',
      'webhooks[2].matchConditions: Too many: must have at most 64 items',
    ]);
  });

  it('reinvocationPolicy is checked on mutating webhooks only', () => {
    const c = config(good({ reinvocationPolicy: 'Sometimes' as never }));
    expect(rendered(c, true)).toHaveLength(1);
    expect(rendered(c, false)).toEqual([]);
  });
});

describe('caBundle encoding', () => {
  it('round-trips base64 PEM and accepts raw PEM', () => {
    expect(decodeCABundle(encodeCABundle(ca.certPem))).toBe(ca.certPem);
    expect(decodeCABundle(ca.certPem)).toBe(ca.certPem);
    expect(decodeCABundle(undefined)).toBeUndefined();
    expect(decodeCABundle(Buffer.from('hello').toString('base64'))).toBeUndefined();
    expect(decodeCABundle('%%%')).toBeUndefined();
  });
});

describe('request helpers', () => {
  it('operationOptions builds the options kube sends', () => {
    expect(operationOptions('CREATE', { dryRun: true, fieldManager: 'kubectl', propagationPolicy: 'Orphan' })).toEqual({
      kind: 'CreateOptions',
      apiVersion: 'meta.k8s.io/v1',
      dryRun: ['All'],
      fieldManager: 'kubectl',
    });
    expect(operationOptions('UPDATE', { fieldValidation: 'Strict' })).toEqual({
      kind: 'UpdateOptions',
      apiVersion: 'meta.k8s.io/v1',
      fieldValidation: 'Strict',
    });
    expect(
      operationOptions('DELETE', { propagationPolicy: 'Foreground', gracePeriodSeconds: 0, fieldManager: 'x' }),
    ).toEqual({
      kind: 'DeleteOptions',
      apiVersion: 'meta.k8s.io/v1',
      propagationPolicy: 'Foreground',
      gracePeriodSeconds: 0,
    });
    expect(operationOptions('CONNECT')).toBeNull();
  });

  it('reviewUserInfo omits empty fields', () => {
    expect(reviewUserInfo({ username: 'system:anonymous', groups: [] })).toEqual({ username: 'system:anonymous' });
    expect(reviewUserInfo({ username: 'a', uid: '1', groups: ['g'], extra: { k: ['v'] } })).toEqual({
      username: 'a',
      uid: '1',
      groups: ['g'],
      extra: { k: ['v'] },
    });
  });
});
