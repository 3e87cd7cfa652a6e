import { unitTemplateDefinition } from '../../../api/index.js';
import { goCases } from './testing/go-cases.js';
import { parseTemplate, renderTemplate, TemplateError, templateFunctionNames } from './template.js';

function renderError(text: string, data: unknown = {}, name = 'my.cnf'): TemplateError {
  try {
    renderTemplate(name, text, data);
  } catch (e) {
    if (e instanceof TemplateError) return e;
    throw e;
  }
  throw new Error(`expected ${JSON.stringify(text)} to fail`);
}

describe('Go text/template compatibility', () => {
  it.each(goCases)('%j renders as Go renders it', (text, data, output) => {
    expect(renderTemplate('t', text, data)).toBe(output);
  });
});

describe('syntax errors name the file and the line', () => {
  it.each([
    ['{{ if .a }}x', 1, 'unclosed {{if}}'],
    ['line\n{{ end }}', 2, 'unexpected {{end}}'],
    ['a\nb\n{{ .x', 3, 'unclosed action'],
    ['{{ nosuchfunc 1 }}', 1, 'function "nosuchfunc" not defined'],
    ['\n\n{{ $undeclared }}', 3, 'undefined variable "$undeclared"'],
    ['{{ break }}', 1, '{{break}} outside {{range}}'],
    ['{{ 3x }}', 1, 'bad number syntax: "3x"'],
    ['{{ "open }}', 1, 'unterminated quoted string'],
    ['{{/* open }}', 1, 'unclosed comment'],
    ['{{ define "x" }}{{ end }}', 1, '{{define}} is not supported in config templates'],
    ['{{ range .l }}{{ else }}{{ else }}{{ end }}', 1, 'expected {{end}} to close {{range}}'],
  ])('%j', (text, line, detail) => {
    expect(() => parseTemplate('my.cnf', text)).toThrow(TemplateError);
    const err = renderError(text);
    expect({ file: err.file, line: err.line, detail: err.detail }).toEqual({ file: 'my.cnf', line, detail });
    expect(err.message).toBe(`my.cnf:${line}: ${detail}`);
  });
});

describe('missing values', () => {
  it('an unset parameter is an error naming the parameter, the file and the line', () => {
    const err = renderError('[mysqld]\nport = 3306\nmax_connections = {{ .Parameters.max_connections }}\n', {
      Parameters: {},
    });
    expect(err.message).toBe(
      'my.cnf:3: parameter "max_connections" has no value (the template gives no default and none is set)',
    );
  });

  it('a parameter read with index is named too', () => {
    const err = renderError(
      'maxmemory-policy {{ index .Parameters "maxmemory-policy" }}',
      { Parameters: {} },
      'redis.conf',
    );
    expect(err.message).toBe(
      'redis.conf:1: parameter "maxmemory-policy" has no value (the template gives no default and none is set)',
    );
  });

  it('other missing fields are named by their path, also through a function', () => {
    expect(renderError('{{ .Resources.limits.memory }}', { Resources: { limits: {} } }).detail).toBe(
      '.Resources.limits.memory has no value',
    );
    expect(renderError('\n{{ percentOf .Resources.limits.memory 70 }}', { Resources: { limits: {} } }).message).toBe(
      'my.cnf:2: percentOf: .Resources.limits.memory has no value',
    );
    expect(renderError('{{ .Unit.nope.deeper }}', { Unit: {} }).detail).toBe('.Unit.nope has no value');
  });

  it('if, with, not and default accept a missing value', () => {
    const data = { Parameters: { set: 'x' } };
    expect(renderTemplate('t', '{{ if .Parameters.unset }}a{{ else }}b{{ end }}', data)).toBe('b');
    expect(renderTemplate('t', '{{ with .Parameters.unset }}a{{ else }}b{{ end }}', data)).toBe('b');
    expect(renderTemplate('t', '{{ not .Parameters.unset }}', data)).toBe('true');
    expect(renderTemplate('t', '{{ .Parameters.unset | default "d" }}', data)).toBe('d');
    expect(renderTemplate('t', '{{ .Parameters.set | default "d" }}', data)).toBe('x');
    // Unlike Sprig's default, false and 0 are values and are kept.
    expect(renderTemplate('t', '{{ .f | default true }} {{ .z | default 5 }}', { f: false, z: 0 })).toBe('false 0');
    expect(renderTemplate('t', '{{ eq .Parameters.unset nil }}', data)).toBe('true');
  });

  it('a range over nothing runs its else branch', () => {
    expect(renderTemplate('t', '{{ range .none }}x{{ else }}empty{{ end }}', {})).toBe('empty');
  });
});

describe('comparisons', () => {
  it('compare a number with a numeric parameter text as numbers', () => {
    expect(renderTemplate('t', '{{ gt .v 100 }} {{ eq .v 1024 }} {{ lt "9" 10 }}', { v: '1024' })).toBe(
      'true true true',
    );
  });

  it('refuse incompatible operands instead of guessing', () => {
    expect(renderError('{{ lt "a" 1 }}').detail).toBe('incompatible types for comparison: string and int');
    expect(renderError('{{ eq .l 1 }}', { l: [1] }).detail).toBe('non-comparable type []interface {}');
    expect(renderError('{{ lt true false }}').detail).toBe('invalid type for comparison: bool');
  });

  it('and / or stop at the deciding operand', () => {
    // The second operand would fail (missing value passed to add) if it were evaluated.
    expect(renderTemplate('t', '{{ and false (add .x 1) }} {{ or 1 (add .x 1) }}', {})).toBe('false 1');
  });
});

describe('functions for config files', () => {
  const r = (text: string, data: unknown = {}) => renderTemplate('t', text, data);

  it('derive sizes from the memory limit', () => {
    const data = { Resources: { limits: { memory: 4 * 2 ** 30 } } };
    expect(r('{{ percentOf .Resources.limits.memory 70 | bytes }}', data)).toBe(String(Math.floor(4 * 2 ** 30 * 0.7)));
    expect(r('{{ percentOf .Resources.limits.memory 75 | mebibytes }}M', data)).toBe('3072M');
    expect(r('{{ alignDown (percentOf .Resources.limits.memory 70) (bytes "128Mi") }}', data)).toBe(
      String(22 * 128 * 2 ** 20),
    );
    expect(r('{{ gibibytes .Resources.limits.memory }} {{ kibibytes "1Mi" }}', data)).toBe('4 1024');
  });

  it('convert quantities given as text', () => {
    expect(r('{{ bytes "64Mi" }} {{ bytes "1G" }} {{ bytes 512 }} {{ mebibytes "1.5Gi" }}')).toBe(
      '67108864 1000000000 512 1536',
    );
    expect(renderError('{{ bytes "lots" }}').detail).toBe('bytes: "lots" is "lots", not a quantity');
  });

  it('count whole cores from millicores or CPU text, at least one', () => {
    expect(r('{{ cores .m }} {{ cores 2000 }} {{ cores 2500 }} {{ cores "3" }} {{ cores "500m" }}', { m: 250 })).toBe(
      '1 2 3 3 1',
    );
  });

  it('do integer arithmetic on integers and decimal arithmetic otherwise', () => {
    expect(r('{{ add 1 2 3 }} {{ sub 10 4 }} {{ mul 2 3 4 }} {{ div 7 2 }} {{ div 7.5 2 }} {{ mod 7 3 }}')).toBe(
      '6 6 24 3 3.75 1',
    );
    expect(r('{{ max 1 9 3 }} {{ min 4 2 8 }} {{ floor 2.7 }} {{ ceil 2.1 }} {{ add "5" 1 }}')).toBe('9 2 2 3 6');
    expect(renderError('{{ div 1 0 }}').detail).toBe('div: division of 1 by zero (0)');
    expect(renderError('{{ add "x" 1 }}').detail).toBe('add: "x" is string "x", not a number');
  });

  it('spell booleans the way engines want them', () => {
    expect(r('{{ onOff .a }} {{ onOff .b }} {{ yesNo .a }} {{ yesNo "off" }}', { a: true, b: false })).toBe(
      'ON OFF yes no',
    );
    expect(renderError('{{ onOff "maybe" }}').detail).toBe('onOff: "maybe" is "maybe", not a boolean');
  });

  it('format with printf, quote and string helpers', () => {
    expect(r('{{ printf "%s:%d" .h .p }} {{ quote .h }}', { h: 'db-0', p: 3306 })).toBe('db-0:3306 "db-0"');
    expect(r('{{ replace "-" "_" "a-b-c" }} {{ split "," "a,b" }} {{ contains "b" "abc" }}')).toBe('a_b_c [a b] true');
    expect(r('{{ hasPrefix "ab" "abc" }} {{ hasSuffix "bc" "abc" }} {{ atoi "42" }}')).toBe('true true 42');
    expect(renderError('{{ printf "%d" "x" }}').detail).toBe('printf: %d cannot format string "x"');
    expect(renderError('{{ printf "%s %s" "x" }}').detail).toBe('printf: missing operand for %s (format "%s %s")');
    expect(renderError('{{ printf "%s" "x" "y" }}').detail).toBe('printf: extra operands string=y (format "%s")');
  });

  it('are all documented in the UnitTemplate schema (kubectl explain unittemplate.spec.configFiles.template)', () => {
    const spec = unitTemplateDefinition.schema.properties!.spec;
    const description = spec.properties!.configFiles.items!.properties!.template.description!;
    const undocumented = templateFunctionNames.filter((name) => !new RegExp(`\\b${name}\\b`).test(description));
    expect(undocumented).toEqual([]);
  });

  it('lists every function in templateFunctionNames', () => {
    for (const name of ['percentOf', 'bytes', 'mebibytes', 'cores', 'default', 'quote', 'printf', 'eq', 'and']) {
      expect(templateFunctionNames).toContain(name);
    }
  });
});

describe('safety', () => {
  it('never reads inherited properties of the data', () => {
    expect(renderError('{{ .constructor }}', {}).detail).toBe('.constructor has no value');
    expect(renderError('{{ .a.__proto__ }}', { a: {} }).detail).toBe('.a.__proto__ has no value');
    expect(renderError('{{ index . "toString" }}', {}).detail).toBe('.["toString"] has no value');
  });

  it('stops a template whose output or loops run away', () => {
    const t = parseTemplate('big', '{{ range 100 }}{{ range 100 }}xxxxxxxxxx{{ end }}{{ end }}');
    expect(() => t.execute({}, { maxOutput: 1000, maxIterations: 1_000_000 })).toThrow(
      'big:1: output exceeds 1000 characters',
    );
    expect(() => t.execute({}, { maxOutput: 10_000_000, maxIterations: 500 })).toThrow(
      'big:1: more than 500 range iterations',
    );
  });

  it('renders the same output for the same input every time', () => {
    const t = parseTemplate('t', '{{ range $k, $v := . }}{{ $k }}={{ $v }}\n{{ end }}');
    const data = { b: 2, a: 1, c: 3 };
    expect(t.execute(data)).toBe('a=1\nb=2\nc=3\n');
    expect(t.execute({ c: 3, a: 1, b: 2 })).toBe(t.execute(data));
  });
});
