import { checkRenderedFormat, renderTemplate, sprintf, TemplateError, type ConfigTemplateData } from './index.js';

function data(parameters: Record<string, unknown> = {}): ConfigTemplateData {
  return {
    Parameters: parameters,
    Unit: { name: 'db-0', namespace: 'default', ordinal: 0, unitSet: 'db', address: 'db-0.db-headless.default.svc' },
    Resources: { requests: { cpu: 500, memory: 1073741824 }, limits: { cpu: 1000, memory: 2147483648 } },
    Env: { ARCH_MODE: 'replication' },
  };
}

const render = (src: string, params: Record<string, unknown> = {}, declared?: string[]) =>
  renderTemplate(src, data(params), { declaredParameters: declared ? new Set(declared) : undefined });

function renderError(src: string, params: Record<string, unknown> = {}, declared?: string[]): string {
  try {
    render(src, params, declared);
  } catch (err) {
    expect(err).toBeInstanceOf(TemplateError);
    return (err as Error).message;
  }
  throw new Error('rendered without error');
}

describe('configuration templates (Go text/template syntax)', () => {
  it('substitutes fields, variables and parameters', () => {
    expect(render('[mysqld]\nmax_connections = {{ .Parameters.max_connections }}\n', { max_connections: 2000 })).toBe(
      '[mysqld]\nmax_connections = 2000\n',
    );
    expect(render('server-id = {{ add .Unit.ordinal 1 }}')).toBe('server-id = 1');
    expect(render('{{ $u := .Unit }}{{ $u.name }}.{{ $.Unit.namespace }}')).toBe('db-0.default');
    expect(render('{{ index .Env "ARCH_MODE" }}')).toBe('replication');
  });

  it('trims whitespace around actions marked with - and drops comments', () => {
    expect(render('a  {{- 1 -}}  b')).toBe('a1b');
    expect(render('a {{/* a comment */}}b')).toBe('a b');
    expect(render('a\n{{- /* trimmed */ -}}\nb')).toBe('ab');
    expect(render('{{-3}}')).toBe('-3');
  });

  it('follows Go truth in if, else if and with', () => {
    const t = '{{ if .Parameters.on }}on{{ else if eq .Parameters.mode "x" }}x{{ else }}off{{ end }}';
    expect(render(t, { on: true, mode: 'y' })).toBe('on');
    expect(render(t, { on: false, mode: 'x' })).toBe('x');
    expect(render(t, { on: 0, mode: 'z' })).toBe('off');
    expect(render('{{ with .Env.ARCH_MODE }}mode={{ . }}{{ end }}')).toBe('mode=replication');
    expect(render('{{ with "" }}x{{ else }}empty{{ end }}')).toBe('empty');
  });

  it('ranges over lists, maps in key order and integers, with break and continue', () => {
    expect(render('{{ range $i, $v := split "," "a,b,c" }}{{ $i }}={{ $v }};{{ end }}')).toBe('0=a;1=b;2=c;');
    expect(render('{{ range $k, $v := .Resources.limits }}{{ $k }}:{{ $v }} {{ end }}')).toBe(
      'cpu:1000 memory:2147483648 ',
    );
    expect(
      render('{{ range 5 }}{{ if eq . 1 }}{{ continue }}{{ end }}{{ if eq . 3 }}{{ break }}{{ end }}{{ . }}{{ end }}'),
    ).toBe('02');
    expect(render('{{ range .Parameters.none }}x{{ else }}nothing{{ end }}', { none: [] })).toBe('nothing');
  });

  it('has the arithmetic, quantity and string helpers', () => {
    expect(render('{{ div (mul .Resources.limits.memory 3) 4 }}')).toBe('1610612736');
    expect(render('{{ mebibytes "1Gi" }} {{ bytes "64Mi" }} {{ millicores "250m" }}')).toBe('1024 67108864 250');
    expect(render('{{ max 1 5 3 }} {{ min 4 2 }} {{ sub 10 4 }} {{ mod 7 3 }}')).toBe('5 2 6 1');
    expect(render('{{ .Unit.name | upper }} {{ "A,B" | lower | split "," | join "+" }}')).toBe('DB-0 a+b');
    expect(render('{{ printf "%s-%03d %.2f %q %v" "x" 7 1.5 "y" true }}')).toBe('x-007 1.50 "y" true');
    expect(render('{{ default "fallback" "" }} {{ "v" | default "fallback" }}')).toBe('fallback v');
    expect(render('{{ and 1 0 }} {{ or 0 "" "z" }} {{ not false }} {{ len "héllo" }}')).toBe('0 z true 6');
  });

  it('prints values as fmt %v does', () => {
    expect(
      render('{{ .Parameters.l }} {{ .Parameters.m }} {{ .Parameters.f }}', { l: [1, 'a'], m: { b: 2, a: 1 }, f: 0.5 }),
    ).toBe('[1 a] map[a:1 b:2] 0.5');
    expect(sprintf('%d%%', 50)).toBe('50%');
    expect(sprintf('%d', 'x')).toBe('%!d(string=x)');
  });

  it('names an undeclared parameter, or a declared one without a value', () => {
    expect(renderError('x = {{ .Parameters.buffer_size }}', {}, ['max_connections'])).toBe(
      'line 1: parameter "buffer_size" is not declared in spec.parameters',
    );
    expect(renderError('\n\nx = {{ index .Parameters "buffer-size" }}', {}, ['buffer-size'])).toBe(
      'line 3: error calling index: parameter "buffer-size" has no default and no value',
    );
    expect(renderError('{{ .Unit.nmae }}')).toBe('line 1: .Unit has no entry for key "nmae"');
  });

  it('reports syntax and execution errors with their line', () => {
    expect(renderError('a\n{{ if .Parameters.x }}')).toBe('line 2: unexpected EOF: {{if}} without {{end}}');
    expect(renderError('{{ end }}')).toBe('line 1: unexpected {{end}}');
    expect(renderError('{{ nosuch 1 }}')).toBe('line 1: function "nosuch" not defined');
    expect(renderError('{{ define "x" }}{{ end }}')).toBe(
      'line 1: {{define}} is not supported in configuration templates',
    );
    expect(renderError('{{ "unterminated }}')).toMatch(/^line 1: /);
    expect(renderError('{{ div 1 0 }}')).toBe('line 1: error calling div: division by zero');
    expect(renderError('{{ add .Parameters.n 1 }}', { n: 'lots' })).toBe(
      'line 1: error calling add: add: "lots" is not a number',
    );
    expect(renderError('{{ $x }}')).toBe('line 1: undefined variable: $x');
    expect(renderError('{{ range 100000000 }}{{ end }}')).toMatch(/more than 1000000 steps/);
  });

  it('checks the rendered text of json and yaml files', () => {
    expect(checkRenderedFormat('json', '{"a": 1}')).toBeUndefined();
    expect(checkRenderedFormat('json', '{"a": }')).toMatch(/^the rendered file is not valid json: /);
    expect(checkRenderedFormat('yaml', 'a: [1')).toMatch(/^the rendered file is not valid yaml: /);
    expect(checkRenderedFormat('ini', '[mysqld]\nx = 1\n')).toBeUndefined();
    expect(checkRenderedFormat('ini', '[mysqld\nx = 1\n')).toMatch(/not valid ini: line 1/);
  });
});
