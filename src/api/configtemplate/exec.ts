// Executes a parsed configuration template with Go text/template's semantics: truth (false, 0,
// "", nil and empty collections are false), range over lists, maps (sorted keys) and integers,
// variables scoped to their block, fmt's %v printing. A missing map key is an error (Go's
// missingkey=error), so a template naming an undeclared parameter fails instead of writing
// "<no value>" into a configuration file.

import { TemplateError, type Arg, type Command, type Node, type Pipeline } from './parse.js';

export type TemplateFunction = (...args: unknown[]) => unknown;

export interface ExecOptions {
  functions: Record<string, TemplateFunction>;
  /** The message for a missing key `key` of the map reached through `path` (`["Parameters"]`). */
  missingKey?: (path: string[], key: string) => string;
  /** Stops runaway templates (range over huge integers, ...). Default 1,000,000 steps. */
  maxSteps?: number;
  /** Largest output in characters. Default 4 MiB. */
  maxOutput?: number;
}

class BreakSignal {}
class ContinueSignal {}

/** A map value remembers the path it was reached by, for missing-key messages. */
const pathOf = new WeakMap<object, string[]>();

export function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Go's template truth. */
export function truth(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (isMap(v)) return Object.keys(v).length > 0;
  return true;
}

/** fmt.Sprint of one value (%v). */
export function printValue(v: unknown): string {
  if (v === undefined) return '<no value>';
  if (v === null) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return formatNumber(v);
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(printValue).join(' ')}]`;
  if (isMap(v))
    return `map[${Object.keys(v)
      .sort()
      .map((k) => `${k}:${printValue(v[k])}`)
      .join(' ')}]`;
  return String(v);
}

export function formatNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return String(n);
  const s = String(n);
  return s.replace(/e([+-])(\d)$/, 'e$10$2');
}

/** fmt.Sprint's rule for several operands: a space between two operands when neither is a string. */
export function sprint(args: unknown[]): string {
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += printValue(a);
  });
  return out;
}

interface Variable {
  name: string;
  value: unknown;
}

class Executor {
  private readonly vars: Variable[] = [];
  private steps = 0;
  private out = '';
  private readonly maxSteps: number;
  private readonly maxOutput: number;

  constructor(
    private readonly opts: ExecOptions,
    root: unknown,
  ) {
    this.vars.push({ name: '$', value: root });
    this.maxSteps = opts.maxSteps ?? 1_000_000;
    this.maxOutput = opts.maxOutput ?? 4 * 1024 * 1024;
  }

  run(nodes: Node[], dot: unknown): string {
    this.walkList(nodes, dot);
    return this.out;
  }

  private step(line: number): void {
    if (++this.steps > this.maxSteps) throw new TemplateError(`template runs more than ${this.maxSteps} steps`, line);
  }

  private write(s: string, line: number): void {
    this.out += s;
    if (this.out.length > this.maxOutput)
      throw new TemplateError(`output is larger than ${this.maxOutput} characters`, line);
  }

  private walkList(nodes: Node[], dot: unknown): void {
    const mark = this.vars.length;
    try {
      for (const n of nodes) this.walk(n, dot);
    } finally {
      this.vars.length = mark;
    }
  }

  private walk(node: Node, dot: unknown): void {
    switch (node.type) {
      case 'text':
        this.write(node.text, 0);
        return;
      case 'action': {
        const v = this.evalPipeline(node.pipe, dot);
        if (node.pipe.decl.length === 0) this.write(printValue(v), node.pipe.line);
        return;
      }
      case 'break':
        throw new BreakSignal();
      case 'continue':
        throw new ContinueSignal();
      case 'if':
      case 'with': {
        const mark = this.vars.length;
        try {
          const v = this.evalPipeline(node.pipe, dot);
          if (truth(v)) this.walkList(node.list, node.type === 'with' ? v : dot);
          else if (node.elseList) this.walkList(node.elseList, dot);
        } finally {
          this.vars.length = mark;
        }
        return;
      }
      case 'range':
        this.walkRange(node, dot);
        return;
    }
  }

  private walkRange(node: Extract<Node, { type: 'range' }>, dot: unknown): void {
    const mark = this.vars.length;
    const decl = node.pipe.decl;
    try {
      const v = this.evalPipeline({ ...node.pipe, decl: [] }, dot);
      let entries: Iterable<[unknown, unknown]>;
      let empty: boolean;
      if (Array.isArray(v)) {
        entries = v.map((x, i): [unknown, unknown] => [i, x]);
        empty = v.length === 0;
      } else if (isMap(v)) {
        entries = Object.keys(v)
          .sort()
          .map((k): [unknown, unknown] => [k, child(v, k, v[k])]);
        empty = Object.keys(v).length === 0;
      } else if (typeof v === 'number' && Number.isInteger(v)) {
        entries = countTo(v);
        empty = v <= 0;
      } else if (v === undefined || v === null) {
        entries = [];
        empty = true;
      } else throw new TemplateError(`range can't iterate over ${printValue(v)}`, node.line);
      if (empty) {
        if (node.elseList) this.walkList(node.elseList, dot);
        return;
      }
      for (const [k, x] of entries) {
        this.step(node.line);
        const inner = this.vars.length;
        if (decl.length === 1) this.vars.push({ name: decl[0]!, value: x });
        if (decl.length === 2) this.vars.push({ name: decl[0]!, value: k }, { name: decl[1]!, value: x });
        try {
          this.walkList(node.list, x);
        } catch (err) {
          if (err instanceof BreakSignal) break;
          if (!(err instanceof ContinueSignal)) throw err;
        } finally {
          this.vars.length = inner;
        }
      }
    } finally {
      this.vars.length = mark;
    }
  }

  private lookupVar(name: string, line: number): Variable {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i]!.name === name) return this.vars[i]!;
    throw new TemplateError(`undefined variable: ${name}`, line);
  }

  private evalPipeline(pipe: Pipeline, dot: unknown): unknown {
    this.step(pipe.line);
    let value: unknown;
    let piped = false;
    for (const cmd of pipe.cmds) {
      value = this.evalCommand(cmd, dot, piped, value);
      piped = true;
    }
    if (pipe.decl.length > 0) {
      if (pipe.assign) this.lookupVar(pipe.decl[0]!, pipe.line).value = value;
      else this.vars.push({ name: pipe.decl[0]!, value });
    }
    return value;
  }

  private evalCommand(cmd: Command, dot: unknown, piped: boolean, final: unknown): unknown {
    const first = cmd.args[0]!;
    if (first.type === 'identifier') return this.call(first.name, cmd.args.slice(1), dot, piped, final, cmd.line);
    if (cmd.args.length > 1 || piped) {
      const what = first.type === 'field' ? `.${first.names.join('.')}` : first.type;
      throw new TemplateError(`can't give argument to non-function ${what}`, cmd.line);
    }
    return this.evalArg(first, dot);
  }

  private call(name: string, args: Arg[], dot: unknown, piped: boolean, final: unknown, line: number): unknown {
    if (name === 'and' || name === 'or') {
      // Short-circuit, as Go 1.18+: stop at the first false (and) or true (or) operand.
      const operands: (() => unknown)[] = args.map((a) => () => this.evalArg(a, dot));
      if (piped) operands.push(() => final);
      if (operands.length === 0)
        throw new TemplateError(`wrong number of args for ${name}: want at least 1 got 0`, line);
      let v: unknown;
      for (const op of operands) {
        v = op();
        if (name === 'and' ? !truth(v) : truth(v)) return v;
      }
      return v;
    }
    const fn = Object.hasOwn(this.opts.functions, name) ? this.opts.functions[name] : undefined;
    if (!fn) throw new TemplateError(`function ${JSON.stringify(name)} not defined`, line);
    const values = args.map((a) => this.evalArg(a, dot));
    if (piped) values.push(final);
    try {
      return fn(...values);
    } catch (err) {
      if (err instanceof TemplateError) throw err;
      throw new TemplateError(`error calling ${name}: ${(err as Error).message}`, line);
    }
  }

  private evalArg(arg: Arg, dot: unknown): unknown {
    switch (arg.type) {
      case 'dot':
        return dot;
      case 'field':
        return this.fields(dot, arg.names, arg.line, []);
      case 'variable': {
        const v = this.lookupVar(arg.name, arg.line).value;
        return this.fields(v, arg.names, arg.line, []);
      }
      case 'string':
        return arg.value;
      case 'number':
        return arg.value;
      case 'bool':
        return arg.value;
      case 'nil':
        throw new TemplateError('nil is not a command', arg.line);
      case 'pipe':
        return this.fields(this.evalPipeline(arg.pipe, dot), arg.names, arg.line, []);
      case 'identifier':
        return this.call(arg.name, [], dot, false, undefined, arg.line);
    }
  }

  private fields(value: unknown, names: string[], line: number, via: string[]): unknown {
    let v = value;
    const path = [...(isMap(value) ? (pathOf.get(value) ?? via) : via)];
    for (const name of names) {
      if (!isMap(v)) {
        const what = v === undefined || v === null ? 'nil' : Array.isArray(v) ? 'a list' : typeof v;
        throw new TemplateError(`can't evaluate field ${name} in ${what}`, line);
      }
      if (!Object.hasOwn(v, name)) {
        const msg = this.opts.missingKey?.(path, name) ?? `map has no entry for key ${JSON.stringify(name)}`;
        throw new TemplateError(msg, line);
      }
      path.push(name);
      v = child(v, name, v[name]);
    }
    return v;
  }
}

function* countTo(n: number): Generator<[number, number]> {
  for (let i = 0; i < n; i++) yield [i, i];
}

function child(parent: Record<string, unknown>, key: string, v: unknown): unknown {
  if (isMap(v) && !pathOf.has(v)) pathOf.set(v, [...(pathOf.get(parent) ?? []), key]);
  return v;
}

/** Marks `value` (a map) as reached by `path`, so missing-key messages can say what it is. */
export function withPath<T>(value: T, path: string[]): T {
  if (isMap(value)) pathOf.set(value, path);
  return value;
}

/** The path a map was reached by (for `index`). */
export function mapPath(value: unknown): string[] {
  return isMap(value) ? (pathOf.get(value) ?? []) : [];
}

export function execute(nodes: Node[], data: unknown, opts: ExecOptions): string {
  return new Executor(opts, data).run(nodes, data);
}
