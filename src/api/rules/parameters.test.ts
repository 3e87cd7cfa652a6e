import type { UnitTemplateParameter } from '../generated/types.js';
import { checkParameterValue, typedParameterValue, validateParameterDefinitions } from './parameters.js';
import { lines } from './testing/lines.js';

const p = (def: Partial<UnitTemplateParameter>): UnitTemplateParameter =>
  ({ name: 'x', type: 'string', ...def }) as UnitTemplateParameter;

describe('parameter values', () => {
  it('integers: digits within the range', () => {
    const def = p({ type: 'integer', minimum: 1, maximum: '100' });
    expect(checkParameterValue(def, '42')).toBeUndefined();
    expect(checkParameterValue(def, '4.2')).toBe('must be an integer');
    expect(checkParameterValue(def, '0')).toBe('must be greater than or equal to 1');
    expect(checkParameterValue(def, '101')).toBe('must be less than or equal to 100');
  });

  it('numbers: decimals within the range', () => {
    const def = p({ type: 'number', minimum: '0.5' });
    expect(checkParameterValue(def, '0.75')).toBeUndefined();
    expect(checkParameterValue(def, '1e2')).toBeUndefined();
    expect(checkParameterValue(def, '0.25')).toBe('must be greater than or equal to 0.5');
    expect(checkParameterValue(def, 'abc')).toBe('must be a decimal number');
  });

  it('quantities: compared by value whatever the suffix', () => {
    const def = p({ type: 'quantity', minimum: '64Mi', maximum: '1Gi' });
    expect(checkParameterValue(def, '512Mi')).toBeUndefined();
    expect(checkParameterValue(def, '1073741824')).toBeUndefined();
    expect(checkParameterValue(def, '2Gi')).toBe('must be less than or equal to 1Gi');
    expect(checkParameterValue(def, '1M')).toBe('must be greater than or equal to 64Mi');
    expect(checkParameterValue(def, 'big')).toBe('must be a quantity, for example 512Mi or 2G');
  });

  it('booleans, enums and sets', () => {
    expect(checkParameterValue(p({ type: 'boolean' }), 'true')).toBeUndefined();
    expect(checkParameterValue(p({ type: 'boolean' }), 'ON')).toBe('must be true or false');
    const mode = p({ type: 'enum', allowedValues: ['ROW', 'STATEMENT'] });
    expect(checkParameterValue(mode, 'ROW')).toBeUndefined();
    expect(checkParameterValue(mode, 'MIXED')).toBe('must be one of "ROW", "STATEMENT"');
    const sqlMode = p({ type: 'set', allowedValues: ['STRICT_TRANS_TABLES', 'NO_ZERO_DATE'] });
    expect(checkParameterValue(sqlMode, 'STRICT_TRANS_TABLES,NO_ZERO_DATE')).toBeUndefined();
    expect(checkParameterValue(sqlMode, '')).toBeUndefined();
    expect(checkParameterValue(sqlMode, 'STRICT_TRANS_TABLES,ANSI')).toBe(
      '"ANSI" is not among the allowed values "STRICT_TRANS_TABLES", "NO_ZERO_DATE"',
    );
  });

  it('strings: the whole value matches the pattern', () => {
    const def = p({ pattern: '[a-z]+' });
    expect(checkParameterValue(def, 'abc')).toBeUndefined();
    expect(checkParameterValue(def, 'abc1')).toBe('must match the pattern "[a-z]+"');
    expect(checkParameterValue(p({}), 'anything')).toBeUndefined();
  });

  it('are typed for templates', () => {
    expect(typedParameterValue({ type: 'integer' }, '42')).toBe(42);
    expect(typedParameterValue({ type: 'number' }, '0.5')).toBe(0.5);
    expect(typedParameterValue({ type: 'boolean' }, 'false')).toBe(false);
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
      'spec.parameters[8].default: Invalid value: "11": must be less than or equal to 10',
      'spec.parameters[9].name: Duplicate value: "a"',
      'spec.parameters[10].allowedValues[0]: Invalid value: "a,b": values of a set cannot contain ","',
    ]);
  });
});
