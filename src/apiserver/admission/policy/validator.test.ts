import { isStatusError, type StatusError } from '../../../machinery/errors.js';
import type { KubeObject } from '../../../machinery/object.js';
import type { AdmissionAttributes } from '../types.js';
import type { ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding } from './types.js';
import { PolicyValidator, type ParamResolver } from './validator.js';

function unitSet(units: number, name = 'db', labels: Record<string, string> = {}): KubeObject {
  return {
    apiVersion: 'upm.io/v1alpha1',
    kind: 'UnitSet',
    metadata: { name, namespace: 'team-a', labels },
    spec: { type: 'mysql', version: '8.0.36', units },
  };
}

function attrs(
  object: KubeObject,
  operation: AdmissionAttributes['operation'] = 'CREATE',
  oldObject?: KubeObject,
): AdmissionAttributes {
  return {
    operation,
    kind: { group: 'upm.io', version: 'v1alpha1', kind: 'UnitSet' },
    resource: { group: 'upm.io', version: 'v1alpha1', resource: 'unitsets' },
    name: object.metadata.name,
    namespace: 'team-a',
    object,
    oldObject: oldObject ?? null,
    userInfo: { username: 'alice', groups: ['dev', 'system:authenticated'] },
    warnings: [],
    auditAnnotations: {},
  };
}

const unitSetRules = {
  resourceRules: [
    {
      apiGroups: ['upm.io'],
      apiVersions: ['*'],
      operations: ['CREATE' as const, 'UPDATE' as const],
      resources: ['unitsets'],
    },
  ],
};

function policy(name: string, spec: ValidatingAdmissionPolicy['spec']): ValidatingAdmissionPolicy {
  return { metadata: { name }, spec: { matchConstraints: unitSetRules, ...spec } };
}

function binding(
  name: string,
  policyName: string,
  spec: ValidatingAdmissionPolicyBinding['spec'] = {},
): ValidatingAdmissionPolicyBinding {
  return { metadata: { name }, spec: { policyName, validationActions: ['Deny'], ...spec } };
}

const namespaces: Record<string, Record<string, string>> = {
  'team-a': { 'kubernetes.io/metadata.name': 'team-a', env: 'prod' },
};

function validator(
  policies: ValidatingAdmissionPolicy[],
  bindings: ValidatingAdmissionPolicyBinding[],
  params?: ParamResolver,
) {
  return new PolicyValidator({
    source: { policies: () => policies, bindings: () => bindings },
    params,
    namespaceLabels: (n) => namespaces[n],
    namespaceObject: (n) =>
      namespaces[n] ? { apiVersion: 'v1', kind: 'Namespace', metadata: { name: n, labels: namespaces[n] } } : undefined,
  });
}

async function denial(v: PolicyValidator, a: AdmissionAttributes): Promise<StatusError> {
  const err = await v.validate(a).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isStatusError(err)) throw new Error(`expected a denial, got ${String(err)}`);
  return err;
}

const maxUnits = policy('max-units', { validations: [{ expression: 'object.spec.units <= 5' }] });

describe('ValidatingAdmissionPolicy', () => {
  it('denies with kube’s message and 422 Invalid when a validation fails', async () => {
    const v = validator([maxUnits], [binding('max-units-binding', 'max-units')]);
    await expect(v.validate(attrs(unitSet(5)))).resolves.toEqual({ warnings: [], auditAnnotations: {} });
    const err = await denial(v, attrs(unitSet(7)));
    expect(err.toStatus()).toMatchObject({
      code: 422,
      reason: 'Invalid',
      message:
        "unitsets.upm.io \"db\" is forbidden: ValidatingAdmissionPolicy 'max-units' with binding 'max-units-binding' denied request: failed expression: object.spec.units <= 5",
    });
  });

  it('warns instead in Warn mode, and records Audit failures', async () => {
    const v = validator([maxUnits], [binding('b', 'max-units', { validationActions: ['Warn', 'Audit'] })]);
    const a = attrs(unitSet(9));
    const result = await v.validate(a);
    expect(result.warnings).toEqual([
      "Validation failed for ValidatingAdmissionPolicy 'max-units' with binding 'b': failed expression: object.spec.units <= 5",
    ]);
    expect(a.warnings).toEqual(result.warnings);
    expect(JSON.parse(result.auditAnnotations['validation.policy.admission.k8s.io/validation_failure']!)).toEqual([
      {
        message: 'failed expression: object.spec.units <= 5',
        policy: 'max-units',
        binding: 'b',
        expressionIndex: 0,
        validationActions: ['Warn', 'Audit'],
      },
    ]);
  });

  it('uses message, messageExpression and reason; variables are computed from earlier ones', async () => {
    const p = policy('p', {
      variables: [
        { name: 'limit', expression: 'namespaceObject.metadata.labels.env == "prod" ? 3 : 10' },
        { name: 'over', expression: 'object.spec.units > variables.limit' },
      ],
      validations: [
        {
          expression: '!variables.over',
          messageExpression:
            '"units must be at most " + string(variables.limit) + ", got " + string(object.spec.units)',
          reason: 'Forbidden',
        },
        { expression: 'object.metadata.name.size() > 2', message: 'name too short' },
      ],
    });
    const v = validator([p], [binding('b', 'p')]);
    const err = await denial(v, attrs(unitSet(4, 'db')));
    expect(err.code).toBe(403);
    expect(err.reason).toBe('Forbidden');
    expect(err.message).toMatch(/denied request: units must be at most 3, got 4$/);
    expect((await denial(v, attrs(unitSet(1, 'x')))).message).toMatch(/denied request: name too short$/);
  });

  it('takes params from the binding’s paramRef; a missing param follows parameterNotFoundAction', async () => {
    const p = policy('p', {
      paramKind: { apiVersion: 'v1', kind: 'ConfigMap' },
      validations: [{ expression: 'object.spec.units <= int(params.data.maxUnits)' }],
    });
    const configMaps: KubeObject[] = [
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'limits', namespace: 'team-a', labels: { policy: 'units' } },
        data: { maxUnits: '2' },
      },
    ];
    const params: ParamResolver = {
      namespaced: () => true,
      get: (_k, ns, name) => configMaps.find((c) => c.metadata.namespace === ns && c.metadata.name === name),
      list: (_k, ns, sel) => configMaps.filter((c) => c.metadata.namespace === ns && sel(c.metadata.labels ?? {})),
    };
    const byName = validator([p], [binding('b', 'p', { paramRef: { name: 'limits' } })], params);
    expect((await denial(byName, attrs(unitSet(3)))).message).toMatch(
      /failed expression: object.spec.units <= int\(params.data.maxUnits\)/,
    );
    await expect(byName.validate(attrs(unitSet(2)))).resolves.toBeDefined();
    const bySelector = validator(
      [p],
      [binding('b', 'p', { paramRef: { selector: { matchLabels: { policy: 'units' } } } })],
      params,
    );
    await expect(denial(bySelector, attrs(unitSet(3)))).resolves.toBeDefined();
    const missingDeny = validator(
      [p],
      [binding('b', 'p', { paramRef: { name: 'nope', parameterNotFoundAction: 'Deny' } })],
      params,
    );
    expect((await denial(missingDeny, attrs(unitSet(1)))).message).toMatch(
      /denied request: failed to configure binding: no params found for policy binding with `Deny` parameterNotFoundAction$/,
    );
    const missingAllow = validator(
      [p],
      [binding('b', 'p', { paramRef: { name: 'nope', parameterNotFoundAction: 'Allow' } })],
      params,
    );
    await expect(missingAllow.validate(attrs(unitSet(100)))).resolves.toBeDefined();
  });

  it('treats an unsupported function as an error: denied under Fail, skipped under Ignore', async () => {
    const p = policy('p', { validations: [{ expression: 'object.spec.units < 10 || nosuch(object)' }] });
    const err = await denial(validator([p], [binding('b', 'p')]), attrs(unitSet(1)));
    expect(err.message).toMatch(
      /denied request: compilation error: compilation failed: found no matching overload for 'nosuch\(dyn\)'$/,
    );
    const ignored = policy('p', { failurePolicy: 'Ignore', validations: [{ expression: 'nosuch(object)' }] });
    await expect(validator([ignored], [binding('b', 'p')]).validate(attrs(unitSet(1)))).resolves.toBeDefined();
  });

  it('treats an evaluation error like a failure (failurePolicy)', async () => {
    const p = policy('p', { validations: [{ expression: 'object.spec.storage.size != ""' }] });
    expect((await denial(validator([p], [binding('b', 'p')]), attrs(unitSet(1)))).message).toMatch(
      /denied request: expression 'object.spec.storage.size != ""' resulted in error: /,
    );
  });

  it('matches by constraints, binding resources, selectors, names and matchConditions', async () => {
    const p = policy('p', {
      matchConstraints: { ...unitSetRules, objectSelector: { matchLabels: { guarded: 'true' } } },
      matchConditions: [{ name: 'not-admin', expression: '!("system:masters" in request.userInfo.groups)' }],
      validations: [{ expression: 'false', message: 'no' }],
    });
    const b = binding('b', 'p', {
      matchResources: {
        namespaceSelector: { matchLabels: { env: 'prod' } },
        excludeResourceRules: [{ ...unitSetRules.resourceRules[0]!, resourceNames: ['exempt'] }],
      },
    });
    const v = validator([p], [b]);
    await expect(v.validate(attrs(unitSet(1)))).resolves.toBeDefined(); // no label
    await expect(denial(v, attrs(unitSet(1, 'db', { guarded: 'true' })))).resolves.toBeDefined();
    await expect(v.validate(attrs(unitSet(1, 'exempt', { guarded: 'true' })))).resolves.toBeDefined();
    const admin = {
      ...attrs(unitSet(1, 'db', { guarded: 'true' })),
      userInfo: { username: 'root', groups: ['system:masters'] },
    };
    await expect(v.validate(admin)).resolves.toBeDefined();
    const other = {
      ...attrs(unitSet(1, 'db', { guarded: 'true' })),
      operation: 'DELETE' as const,
      object: null,
      oldObject: unitSet(1),
    };
    await expect(v.validate(other)).resolves.toBeDefined();
  });

  it('sees oldObject on update, and records audit annotations', async () => {
    const p = policy('p', {
      validations: [
        { expression: 'oldObject == null || object.spec.units >= oldObject.spec.units', message: 'cannot scale down' },
      ],
      auditAnnotations: [{ key: 'units', valueExpression: 'string(object.spec.units)' }],
    });
    const v = validator([p], [binding('b', 'p')]);
    expect((await v.validate(attrs(unitSet(3), 'UPDATE', unitSet(2)))).auditAnnotations).toEqual({ 'p/units': '3' });
    expect((await denial(v, attrs(unitSet(1), 'UPDATE', unitSet(2)))).message).toMatch(/cannot scale down$/);
  });
});
