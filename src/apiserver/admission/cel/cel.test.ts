import { CELCompileError, compileCEL, fromCEL, toCEL } from './compile.js';

const vars = ['object', 'oldObject', 'params', 'variables'];
const evaluate = (expression: string, object: unknown = {}) =>
  fromCEL(
    compileCEL(expression, vars).evaluate({ object: toCEL(object), oldObject: null, params: null, variables: {} }),
  );

function compileError(expression: string): string {
  try {
    compileCEL(expression, vars);
  } catch (err) {
    expect(err).toBeInstanceOf(CELCompileError);
    return (err as Error).message;
  }
  throw new Error('compiled');
}

describe('CEL for admission policies', () => {
  it('reads JSON objects with integers as ints, has(), macros and optionals', () => {
    const us = { metadata: { name: 'db', labels: { tier: 'gold' } }, spec: { units: 3, ratio: 0.5, items: [1, 2, 3] } };
    expect(evaluate('object.spec.units + 1 == 4', us)).toBe(true);
    expect(evaluate('object.spec.units / 2', us)).toBe(1);
    expect(evaluate('object.spec.ratio * 2.0', us)).toBe(1);
    expect(evaluate('has(object.metadata.labels) && !has(object.spec.storage)', us)).toBe(true);
    expect(evaluate('object.spec.items.all(i, i > 0) && object.spec.items.exists_one(i, i == 2)', us)).toBe(true);
    expect(evaluate('object.spec.items.filter(i, i > 1).map(i, i * 10)', us)).toEqual([20, 30]);
    expect(evaluate('object.?spec.?storage.?size.orValue("none")', us)).toBe('none');
    expect(evaluate('cel.bind(n, object.metadata.name, n + "-0")', us)).toBe('db-0');
  });

  it('has the quantity library', () => {
    expect(evaluate('quantity("1Gi").isGreaterThan(quantity("512Mi"))')).toBe(true);
    expect(evaluate('quantity("500m").compareTo(quantity("1"))')).toBe(-1);
    expect(evaluate('quantity("2").add(3).asInteger()')).toBe(5);
    expect(evaluate('quantity("1.5").isInteger()')).toBe(false);
    expect(evaluate('isQuantity("10Gi") && !isQuantity("ten")')).toBe(true);
    expect(() => evaluate('quantity("ten")')).toThrow(/quantities must match/);
  });

  it('has the url, regex, lists and strings libraries', () => {
    expect(evaluate('url("https://example.com:8443/a/b?x=1&x=2").getQuery()')).toEqual({ x: ['1', '2'] });
    expect(
      evaluate('url("https://example.com:8443/a").getHostname() + ":" + url("https://example.com:8443/a").getPort()'),
    ).toBe('example.com:8443');
    expect(evaluate('isURL("not a url")')).toBe(false);
    expect(evaluate('"abc123def456".find("[0-9]+")')).toBe('123');
    expect(evaluate('"abc123def456".findAll("[0-9]+")')).toEqual(['123', '456']);
    expect(evaluate('"MySQL-8".find("(?i)^mysql")')).toBe('MySQL');
    expect(evaluate('[1, 2, 3].isSorted() && [3, 1].sum() == 4 && [3, 1].min() == 1 && [3, 1].max() == 3')).toBe(true);
    expect(evaluate('[1, 2, 1].lastIndexOf(1) == 2 && [1, 2].indexOf(3) == -1')).toBe(true);
    expect(evaluate('"hello".charAt(1) + "hello".reverse() + "a-b-c".replace("-", "+", 1)')).toBe('eolleha+b-c');
    expect(evaluate('strings.quote("x")')).toBe('"x"');
    expect(evaluate('"A,B".lowerAscii().split(",")')).toEqual(['a', 'b']);
  });

  it('refuses what it does not support at compile time, even where evaluation would not reach it', () => {
    expect(compileError('true || nosuch(object)')).toBe(
      "compilation failed: found no matching overload for 'nosuch(dyn)'",
    );
    expect(compileError('authorizer.group("apps").check("get").allowed()')).toBe(
      'compilation failed: Unknown variable: authorizer',
    );
    expect(compileError('object.x.matches("(a)\\\\1")')).toMatch(/refused: backreferences are not supported/);
    expect(compileError('object.x.matches("(?i)^mysql")')).toMatch(/does not support RE2 flag groups/);
    expect(compileError('object.l.all(a, a.all(b, b.all(c, c.all(d, d))))')).toMatch(/nest more than 3 deep/);
    expect(compileError('object.spec.units >')).toMatch(/^compilation failed: /);
    expect(compileError('x'.repeat(6000))).toMatch(/longer than 5120/);
  });

  it('finishes a match that would backtrack exponentially', () => {
    const started = Date.now();
    expect(evaluate('object.name.matches("^(a+)+$")', { name: `${'a'.repeat(40)}!` })).toBe(false);
    expect(evaluate('object.name.find("(a|aa)+$")', { name: `${'a'.repeat(40)}!` })).toBe('');
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
