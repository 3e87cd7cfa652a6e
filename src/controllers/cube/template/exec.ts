// Executes a parse tree against data (Go's text/template exec, for the supported subset). Pure:
// no I/O, no clock; bounded output and loop iterations so a template cannot run away.

import { TemplateError } from './errors.js';
import type { CallInfo, TemplateFunction } from './funcs.js';
import type { Command, Node, Operand, Pipeline } from './parser.js';
import { describeMissing, isMissing, isNil, isPlainObject, isTrue, Missing, toText, typeName } from './values.js';

export interface ExecLimits {
  /** Largest output, in characters. */
  maxOutput: number;
  /** Most range iterations over the whole execution. */
  maxIterations: number;
}

export const defaultLimits: ExecLimits = { maxOutput: 4 * 1024 * 1024, maxIterations: 1_000_000 };

class BreakSignal {}
class ContinueSignal {}

/** Raised inside evaluation; the executor turns it into a TemplateError with the line. */
class EvalError extends Error {}

interface Variable {
  name: string;
  value: unknown;
}

const NO_FINAL = Symbol('no final value');

export function execute(
  file: string,
  nodes: Node[],
  data: unknown,
  functions: Record<string, TemplateFunction>,
  limits: ExecLimits = defaultLimits,
): string {
  return new Executor(file, data, functions, limits).run(nodes);
}

class Executor {
  private out: string[] = [];
  private size = 0;
  private iterations = 0;
  private readonly vars: Variable[];
  private line = 1;

  constructor(
    private readonly file: string,
    data: unknown,
    private readonly functions: Record<string, TemplateFunction>,
    private readonly limits: ExecLimits,
  ) {
    this.vars = [{ name: '$', value: data }];
  }

  run(nodes: Node[]): string {
    try {
      this.walkList(this.vars[0].value, nodes);
    } catch (e) {
      if (e instanceof TemplateError) throw e;
      if (e instanceof EvalError || e instanceof Error) throw new TemplateError(this.file, this.line, e.message);
      throw e;
    }
    return this.out.join('');
  }

  private write(text: string): void {
    this.size += text.length;
    if (this.size > this.limits.maxOutput) {
      throw new EvalError(`output exceeds ${this.limits.maxOutput} characters`);
    }
    this.out.push(text);
  }

  private walkList(dot: unknown, nodes: Node[]): void {
    for (const node of nodes) this.walk(dot, node);
  }

  private walk(dot: unknown, node: Node): void {
    switch (node.type) {
      case 'text':
        this.write(node.text);
        return;
      case 'action': {
        this.line = node.line;
        const value = this.evalPipeline(dot, node.pipe);
        if (node.pipe.decl.length === 0) this.write(this.printable(value, node.pipe));
        return;
      }
      case 'if':
      case 'with': {
        this.line = node.line;
        const mark = this.vars.length;
        const value = this.evalPipeline(dot, node.pipe);
        try {
          if (isTrue(value)) this.walkList(node.type === 'with' ? value : dot, node.list);
          else if (node.elseList) this.walkList(dot, node.elseList);
        } finally {
          this.vars.length = mark;
        }
        return;
      }
      case 'range':
        this.walkRange(dot, node);
        return;
      case 'break':
        this.line = node.line;
        throw new BreakSignal();
      case 'continue':
        this.line = node.line;
        throw new ContinueSignal();
    }
  }

  private walkRange(dot: unknown, node: Extract<Node, { type: 'range' }>): void {
    this.line = node.line;
    const mark = this.vars.length;
    // The range variables are set per element, not from the pipeline value.
    const pipe: Pipeline = { ...node.pipe, decl: [] };
    const value = this.evalPipeline(dot, pipe);
    const entries = this.rangeEntries(value, node.pipe);
    try {
      if (entries.length === 0) {
        if (node.elseList) this.walkList(dot, node.elseList);
        return;
      }
      for (const [key, element] of entries) {
        if (++this.iterations > this.limits.maxIterations) {
          throw new EvalError(`more than ${this.limits.maxIterations} range iterations`);
        }
        const inner = this.vars.length;
        const decl = node.pipe.decl;
        if (decl.length === 1) this.vars.push({ name: decl[0], value: element });
        if (decl.length === 2) this.vars.push({ name: decl[0], value: key }, { name: decl[1], value: element });
        try {
          this.walkList(element, node.list);
        } catch (e) {
          if (e instanceof BreakSignal) break;
          if (!(e instanceof ContinueSignal)) throw e;
        } finally {
          this.vars.length = inner;
        }
      }
    } finally {
      this.vars.length = mark;
    }
  }

  private rangeEntries(value: unknown, pipe: Pipeline): [unknown, unknown][] {
    if (isNil(value)) return [];
    if (Array.isArray(value)) return value.map((v, i) => [i, v]);
    if (isPlainObject(value))
      return Object.keys(value)
        .sort()
        .map((k) => [k, value[k]]);
    if (typeof value === 'number' && Number.isInteger(value)) {
      if (value > this.limits.maxIterations) throw new EvalError(`range over ${value} exceeds the iteration limit`);
      return Array.from({ length: Math.max(0, value) }, (_, i) => [i, i]);
    }
    throw new EvalError(`range can't iterate over ${typeName(value)} ${sourceOf(pipe)}`);
  }

  /** The text an action prints; a missing value is an error that names it. */
  private printable(value: unknown, pipe: Pipeline): string {
    if (isMissing(value)) throw new EvalError(describeMissing(value.what));
    if (value === null || value === undefined) throw new EvalError(`${sourceOf(pipe)} has no value`);
    return toText(value);
  }

  private evalPipeline(dot: unknown, pipe: Pipeline): unknown {
    let value: unknown = NO_FINAL;
    for (const cmd of pipe.cmds) value = this.evalCommand(dot, cmd, value);
    for (const name of pipe.decl) {
      if (pipe.isAssign) {
        const v = [...this.vars].reverse().find((x) => x.name === name);
        if (!v) throw new EvalError(`undefined variable: ${name}`);
        v.value = value;
      } else {
        this.vars.push({ name, value });
      }
    }
    return value;
  }

  private evalCommand(dot: unknown, cmd: Command, final: unknown): unknown {
    this.line = cmd.line;
    const [first, ...rest] = cmd.args;
    if (first.type === 'identifier') return this.call(dot, first.name, rest, final);
    if (rest.length > 0 || final !== NO_FINAL) {
      throw new EvalError(`can't give argument to non-function ${first.source}`);
    }
    return this.evalOperand(dot, first);
  }

  private evalOperand(dot: unknown, op: Operand): unknown {
    switch (op.type) {
      case 'dot':
        return dot;
      case 'field':
        return this.fields(dot, op.names, '', op.source);
      case 'variable': {
        const v = [...this.vars].reverse().find((x) => x.name === op.name);
        if (!v) throw new EvalError(`undefined variable: ${op.name}`);
        return this.fields(v.value, op.names, op.name, op.source);
      }
      case 'chain': {
        const base = this.evalPipeline(dot, op.pipe);
        return this.fields(base, op.names, op.baseSource, op.source);
      }
      case 'identifier':
        return this.call(dot, op.name, [], NO_FINAL);
      case 'string':
      case 'number':
      case 'bool':
        return op.value;
      case 'nil':
        return null;
    }
  }

  /** Follows `.A.B` from `base`; a key that is not there gives Missing, named by its path. */
  private fields(base: unknown, names: string[], basePath: string, source: string): unknown {
    let value = base;
    let path = basePath;
    for (const name of names) {
      path = `${path}.${name}`;
      if (isMissing(value)) return new Missing(source);
      if (value === null || value === undefined) return new Missing(path);
      if (!isPlainObject(value))
        throw new EvalError(`can't evaluate field ${name} in type ${typeName(value)} (${path})`);
      value = Object.hasOwn(value, name) ? value[name] : undefined;
      if (value === undefined) return new Missing(path);
    }
    return value;
  }

  private call(dot: unknown, name: string, argOps: Operand[], final: unknown): unknown {
    const sources = argOps.map((a) => a.source);
    if (final !== NO_FINAL) sources.push('the piped value');
    // and/or stop at the first operand that decides the result, as Go's do.
    if (name === 'and' || name === 'or') {
      const count = argOps.length + (final !== NO_FINAL ? 1 : 0);
      if (count < 1) throw new EvalError(`wrong number of args for ${name}: want at least 1 got 0`);
      let value: unknown;
      for (let i = 0; i < count; i++) {
        value = i < argOps.length ? this.evalOperand(dot, argOps[i]) : final;
        if (isTrue(value) !== (name === 'and')) return value;
      }
      return value;
    }
    const fn = this.functions[name];
    if (!fn) throw new EvalError(`function "${name}" not defined`);
    const args = argOps.map((a) => this.evalOperand(dot, a));
    if (final !== NO_FINAL) args.push(final);
    if (args.length < fn.min || (fn.max !== undefined && args.length > fn.max)) {
      const want =
        fn.max === fn.min ? `${fn.min}` : fn.max === undefined ? `at least ${fn.min}` : `${fn.min} to ${fn.max}`;
      throw new EvalError(`wrong number of args for ${name}: want ${want} got ${args.length}`);
    }
    if (!fn.acceptsMissing) {
      args.forEach((a, i) => {
        if (isMissing(a)) throw new EvalError(`${name}: ${describeMissing(a.what)}`);
        if (a === null || a === undefined) throw new EvalError(`${name}: ${sources[i]} is nil`);
      });
    }
    const info: CallInfo = { name, argSources: sources };
    return fn.call(args, info);
  }
}

function sourceOf(pipe: Pipeline): string {
  return pipe.cmds.map((c) => c.args.map((a) => a.source).join(' ')).join(' | ');
}
