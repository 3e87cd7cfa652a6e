import type { UnitTemplateParameter } from '../generated/types.js';
import {
  checkParameterValue,
  parameterValueProblem,
  typedParameterValue,
  validateParameterDefinitions,
} from './parameters.js';
import { lines } from './testing/lines.js';

const p = (def: Partial<UnitTemplateParameter>): UnitTemplateParameter =>
  ({ name: 'x', type: 'string', ...def }) as UnitTemplateParameter;

// checkParameterValue itself is tested with the controllers that resolve parameters
// (src/controllers/cube/specs/parameters.test.ts); here, what admission shows of it.
describe('parameter values', () => {
  it('give the reason without repeating name and value, which the field error shows', () => {
    const def = p({ type: 'integer', minimum: 1, maximum: '100' });
    expect(checkParameterValue(def, '101')).toBe('x="101": above the maximum 100');
    expect(parameterValueProblem(def, '101')).toBe('above the maximum 100');
    expect(parameterValueProblem(def, '42')).toBeUndefined();
    expect(parameterValueProblem(p({ type: 'string', pattern: '(' }), 'a')).toBe(
      'x: the template\'s pattern "(" is not a valid regular expression',
    );
  });

  it('are typed for templates', () => {
    expect(typedParameterValue({ type: 'integer' }, '42')).toBe(42);
    expect(typedParameterValue({ type: 'integer' }, '18446744073709551615')).toBe('18446744073709551615');
    expect(typedParameterValue({ type: 'number' }, '0.5')).toBe(0.5);
    expect(typedParameterValue({ type: 'boolean' }, 'ON')).toBe(true);
    expect(typedParameterValue({ type: 'quantity' }, '1Gi')).toBe('1Gi');
  });
});

describe('parameter definitions', () => {
  it('accept consistent definitions', () => {
    expect(
      validateParameterDefinitions(
        [
          p({ name: 'a', type: 'integer', minimum: 1, maximum: 10, default: '5', dynamic: true }),
          p({ name: 'b', type: 'enum', allowedValues: ['x', 'y'], default: 'x' }),
          p({ name: 'c', type: 'string', pattern: '^[a-z]+$', default: 'abc', immutable: true }),
        ],
        'spec.parameters',
      ),
    ).toEqual([]);
  });

  it('reject inconsistent ones, naming the field', () => {
    expect(
      lines(
        validateParameterDefinitions(
          [
            p({ name: 'a', type: 'enum' }),
            p({ name: 'b', type: 'integer', allowedValues: ['1'] }),
            p({ name: 'c', type: 'boolean', minimum: 0 }),
            p({ name: 'd', type: 'integer', minimum: 'ten' }),
            p({ name: 'e', type: 'integer', minimum: 10, maximum: 1 }),
            p({ name: 'f', type: 'integer', pattern: '\\d+' }),
            p({ name: 'g', type: 'string', pattern: '(' }),
            p({ name: 'h', type: 'integer', dynamic: true, immutable: true }),
            p({ name: 'i', type: 'integer', maximum: 10, default: '11' }),
            p({ name: 'a', type: 'string' }),
            p({ name: 'j', type: 'set', allowedValues: ['a,b'] }),
          ],
          'spec.parameters',
        ),
      ),
    ).toEqual([
      'spec.parameters[0].allowedValues: Required value: a parameter of type enum must list its allowed values',
      'spec.parameters[1].allowedValues: Forbidden: only enum and set parameters have allowed values, not integer',
      'spec.parameters[2].minimum: Forbidden: only integer, number and quantity parameters have a range, not boolean',
      'spec.parameters[3].minimum: Invalid value: "ten": must be a value of type integer',
      'spec.parameters[4].maximum: Invalid value: 1: must be greater than or equal to minimum 10',
      'spec.parameters[5].pattern: Forbidden: only string parameters have a pattern, not integer',
      expect.stringMatching(/^spec.parameters\[6\].pattern: Invalid value: "\(": not a valid regular expression: /),
      'spec.parameters[7].dynamic: Invalid value: true: an immutable parameter cannot be changed, so it cannot be dynamic',
      'spec.parameters[8].default: Invalid value: "11": above the maximum 10',
      'spec.parameters[9].name: Duplicate value: "a"',
      'spec.parameters[10].allowedValues[0]: Invalid value: "a,b": values of a set cannot contain ","',
    ]);
  });
});
