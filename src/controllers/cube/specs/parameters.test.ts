import type { UnitTemplateParameter } from '../../../api/generated/types.js';
import { checkParameterValue, resolveParameters, typedParameterValues } from './parameters.js';
import { testTemplate } from './testing/fixtures.js';

const p = (def: Partial<UnitTemplateParameter> & Pick<UnitTemplateParameter, 'type'>): UnitTemplateParameter => ({
  name: 'x',
  ...def,
});

describe('checkParameterValue', () => {
  it.each([
    [p({ type: 'integer', minimum: 1, maximum: 10 }), '5', undefined],
    [p({ type: 'integer', minimum: 1, maximum: 10 }), '11', 'x="11": above the maximum 10'],
    [p({ type: 'integer', minimum: 1 }), '0', 'x="0": below the minimum 1'],
    [p({ type: 'integer' }), '1.5', 'x="1.5": not an integer'],
    [p({ type: 'integer', maximum: '18446744073709551615' }), '18446744073709551615', undefined],
    [
      p({ type: 'integer', maximum: '18446744073709551615' }),
      '18446744073709551616',
      'x="18446744073709551616": above the maximum 18446744073709551615',
    ],
    [p({ type: 'number', minimum: 0, maximum: 1 }), '0.5', undefined],
    [p({ type: 'number', minimum: 0, maximum: 1 }), '1.5', 'x="1.5": above the maximum 1'],
    [p({ type: 'number' }), 'abc', 'x="abc": not a number'],
    [p({ type: 'quantity', minimum: '1Mi', maximum: '1Gi' }), '512Mi', undefined],
    [p({ type: 'quantity', minimum: '1Mi', maximum: '1Gi' }), '2Gi', 'x="2Gi": above the maximum 1Gi'],
    [p({ type: 'quantity' }), 'big', 'x="big": not a quantity (for example 512Mi or 2G)'],
    [p({ type: 'boolean' }), 'ON', undefined],
    [p({ type: 'boolean' }), 'maybe', 'x="maybe": not a boolean (true or false)'],
    [p({ type: 'enum', allowedValues: ['a', 'b'] }), 'b', undefined],
    [p({ type: 'enum', allowedValues: ['a', 'b'] }), 'c', 'x="c": must be one of a, b'],
    [p({ type: 'set', allowedValues: ['A', 'B', 'C'] }), 'A,C', undefined],
    [p({ type: 'set', allowedValues: ['A', 'B', 'C'] }), '', undefined],
    [p({ type: 'set', allowedValues: ['A', 'B'] }), 'A,Z', 'x="A,Z": Z not among A, B'],
    [p({ type: 'string', pattern: '^[a-z]+$' }), 'abc', undefined],
    [p({ type: 'string', pattern: '^[a-z]+$' }), 'ABC', 'x="ABC": does not match ^[a-z]+$'],
    [p({ type: 'string', pattern: '(' }), 'a', 'x: the template\'s pattern "(" is not a valid regular expression'],
  ])('%j accepts %j or says why not', (def, value, why) => {
    expect(checkParameterValue(def, value)).toBe(why);
  });
});

describe('resolveParameters', () => {
  it('overlays layers in order, later ones winning', () => {
    const { values, problems } = resolveParameters(
      testTemplate(),
      { max_connections: '100' },
      { max_connections: '200', binlog_format: 'MIXED' },
    );
    expect(problems).toEqual([]);
    expect(values).toEqual({
      binlog_format: 'MIXED',
      lower_case_table_names: '0',
      max_connections: '200',
      performance_schema: 'false',
    });
  });

  it('reports an invalid default of the template', () => {
    const template = testTemplate();
    template.spec.parameters![0].default = 'lots';
    expect(resolveParameters(template).problems).toEqual([
      {
        reason: 'InvalidParameterValue',
        parameter: 'max_connections',
        message: 'default max_connections="lots": not an integer',
      },
    ]);
  });
});

describe('typedParameterValues', () => {
  it('gives templates numbers and booleans, and keeps text for the rest and for huge integers', () => {
    const template = testTemplate();
    template.spec.parameters!.push({ name: 'big', type: 'integer' }, { name: 'ratio', type: 'number' });
    expect(
      typedParameterValues(template, {
        max_connections: '1024',
        performance_schema: 'ON',
        binlog_format: 'ROW',
        big: '18446744073709551615',
        ratio: '0.75',
        unknown: 'kept',
      }),
    ).toEqual({
      max_connections: 1024,
      performance_schema: true,
      binlog_format: 'ROW',
      big: '18446744073709551615',
      ratio: 0.75,
      unknown: 'kept',
    });
  });
});
