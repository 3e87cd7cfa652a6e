// The parse tree of a template (Go's text/template/parse, for the subset we support): text,
// actions with pipelines, if / else if / else, range (with break and continue), with, variables.
// define, template and block are not supported: a config file is one template.

import { TemplateError } from './errors.js';
import { lex, type Token } from './lexer.js';

export type Node = TextNode | ActionNode | BranchNode | RangeNode | LoopControlNode;

export interface TextNode {
  type: 'text';
  text: string;
}

export interface ActionNode {
  type: 'action';
  line: number;
  pipe: Pipeline;
}

/** `if` and `with`: the list runs when the pipeline's value is true (for with, as dot). */
export interface BranchNode {
  type: 'if' | 'with';
  line: number;
  pipe: Pipeline;
  list: Node[];
  elseList: Node[] | undefined;
}

export interface RangeNode {
  type: 'range';
  line: number;
  pipe: Pipeline;
  list: Node[];
  elseList: Node[] | undefined;
}

export interface LoopControlNode {
  type: 'break' | 'continue';
  line: number;
}

export interface Pipeline {
  line: number;
  /** Variables declared (`:=`) or assigned (`=`) by the pipeline. */
  decl: string[];
  isAssign: boolean;
  cmds: Command[];
}

export interface Command {
  line: number;
  args: Operand[];
}

export type Operand =
  | { type: 'field'; names: string[]; source: string }
  | { type: 'variable'; name: string; names: string[]; source: string }
  | { type: 'chain'; pipe: Pipeline; names: string[]; baseSource: string; source: string }
  | { type: 'dot'; source: string }
  | { type: 'identifier'; name: string; source: string }
  | { type: 'string'; value: string; source: string }
  | { type: 'number'; value: number; source: string }
  | { type: 'bool'; value: boolean; source: string }
  | { type: 'nil'; source: string };

const UNSUPPORTED = new Set(['define', 'template', 'block']);

/** Parses `text`; `isFunction` says which identifiers name functions. */
export function parse(name: string, text: string, isFunction: (name: string) => boolean): Node[] {
  return new Parser(name, lex(name, text), isFunction).parseTemplate();
}

type Terminator = { keyword: 'end' | 'else' | 'eof'; token: Token };

class Parser {
  private i = 0;
  /** Variables in scope, innermost last; `$` is always defined. */
  private readonly vars: string[] = ['$'];
  private rangeDepth = 0;

  constructor(
    private readonly name: string,
    private readonly tokens: Token[],
    private readonly isFunction: (name: string) => boolean,
  ) {}

  parseTemplate(): Node[] {
    const { nodes, end } = this.parseList();
    if (end.keyword !== 'eof') this.fail(end.token, `unexpected {{${end.keyword}}}`);
    return nodes;
  }

  private fail(token: Token, message: string): never {
    throw new TemplateError(this.name, token.line, message);
  }

  private peek(): Token {
    return this.tokens[this.i];
  }

  private next(): Token {
    return this.tokens[this.i++];
  }

  private skipSpace(): Token {
    while (this.peek().kind === 'space') this.i++;
    return this.peek();
  }

  private expect(kind: Token['kind'], context: string): Token {
    const token = this.skipSpace();
    if (token.kind !== kind) this.fail(token, `unexpected ${describe(token)} in ${context}`);
    return this.next();
  }

  /** Nodes up to `{{end}}`, `{{else …}}` or the end of the text. */
  private parseList(): { nodes: Node[]; end: Terminator } {
    const nodes: Node[] = [];
    for (;;) {
      const token = this.next();
      if (token.kind === 'eof') return { nodes, end: { keyword: 'eof', token } };
      if (token.kind === 'text') {
        nodes.push({ type: 'text', text: token.value });
        continue;
      }
      if (token.kind !== 'leftDelim') this.fail(token, `unexpected ${describe(token)}`);
      const word = this.skipSpace();
      if (word.kind === 'identifier') {
        switch (word.value) {
          case 'end':
            this.next();
            this.expect('rightDelim', 'end');
            return { nodes, end: { keyword: 'end', token: word } };
          case 'else':
            this.next();
            return { nodes, end: { keyword: 'else', token: word } };
          case 'if':
          case 'with':
            this.next();
            nodes.push(this.parseBranch(word.value, word));
            continue;
          case 'range':
            this.next();
            nodes.push(this.parseRange(word));
            continue;
          case 'break':
          case 'continue':
            this.next();
            if (this.rangeDepth === 0) this.fail(word, `{{${word.value}}} outside {{range}}`);
            this.expect('rightDelim', word.value);
            nodes.push({ type: word.value, line: word.line });
            continue;
          default:
            if (UNSUPPORTED.has(word.value)) this.fail(word, `{{${word.value}}} is not supported in config templates`);
        }
      }
      const pipe = this.parsePipeline('command', true);
      this.expect('rightDelim', 'command');
      nodes.push({ type: 'action', line: word.line, pipe });
    }
  }

  /** `if`/`with` after the keyword, through `{{end}}`; `{{else if …}}` nests another branch. */
  private parseBranch(kind: 'if' | 'with', keyword: Token): BranchNode {
    const scope = this.vars.length;
    const pipe = this.parsePipeline(kind, false);
    this.expect('rightDelim', kind);
    const afterPipe = this.vars.length;
    const { nodes: list, end } = this.parseList();
    this.vars.length = afterPipe;
    let elseList: Node[] | undefined;
    if (end.keyword === 'else') {
      const chained = this.skipSpace();
      if (chained.kind === 'identifier' && (chained.value === 'if' || chained.value === 'with')) {
        // {{else if x}} … {{end}} is {{else}}{{if x}} … {{end}}{{end}}: the nested branch takes the end.
        this.next();
        elseList = [this.parseBranch(chained.value, chained)];
      } else {
        this.expect('rightDelim', 'else');
        const rest = this.parseList();
        if (rest.end.keyword !== 'end') this.fail(rest.end.token, `expected {{end}} to close {{${kind}}}`);
        elseList = rest.nodes;
      }
    } else if (end.keyword !== 'end') this.fail(keyword, `unclosed {{${kind}}}`);
    this.vars.length = scope;
    return { type: kind, line: keyword.line, pipe, list, elseList };
  }

  private parseRange(keyword: Token): RangeNode {
    const scope = this.vars.length;
    const pipe = this.parsePipeline('range', false);
    this.expect('rightDelim', 'range');
    const afterPipe = this.vars.length;
    this.rangeDepth++;
    const { nodes: list, end } = this.parseList();
    this.rangeDepth--;
    this.vars.length = afterPipe;
    let elseList: Node[] | undefined;
    if (end.keyword === 'else') {
      this.expect('rightDelim', 'else');
      const rest = this.parseList();
      if (rest.end.keyword !== 'end') this.fail(rest.end.token, 'expected {{end}} to close {{range}}');
      elseList = rest.nodes;
    } else if (end.keyword !== 'end') this.fail(keyword, 'unclosed {{range}}');
    this.vars.length = scope;
    return { type: 'range', line: keyword.line, pipe, list, elseList };
  }

  /** A pipeline, with its leading declaration if any. */
  private parsePipeline(context: string, allowAssign: boolean): Pipeline {
    const start = this.skipSpace();
    const decl: string[] = [];
    let isAssign = false;
    const save = this.i;
    if (start.kind === 'variable') {
      // $x := …, $x = …, or (range) $i, $v := …
      this.next();
      const names = [start.value];
      let after = this.skipSpace();
      if (after.kind === 'comma' && context === 'range') {
        this.next();
        const second = this.expect('variable', 'range declaration');
        names.push(second.value);
        after = this.skipSpace();
        if (after.kind !== 'declare') this.fail(after, 'expected := after range variables');
      }
      if (after.kind === 'declare' || (after.kind === 'assign' && allowAssign)) {
        this.next();
        isAssign = after.kind === 'assign';
        if (isAssign) {
          for (const v of names) if (!this.vars.includes(v)) this.fail(start, `undefined variable "${v}"`);
        }
        decl.push(...names);
      } else {
        this.i = save;
      }
    }
    const cmds: Command[] = [];
    for (;;) {
      const token = this.skipSpace();
      cmds.push(this.parseCommand(context));
      const after = this.skipSpace();
      if (after.kind === 'pipe') {
        this.next();
        continue;
      }
      if (after.kind === 'rightDelim' || after.kind === 'rightParen') break;
      this.fail(after.kind === 'eof' ? token : after, `unexpected ${describe(after)} in ${context}`);
    }
    if (cmds.length === 0) this.fail(start, `missing value for ${context}`);
    // Declared variables are visible from the end of the pipeline on.
    if (!isAssign) this.vars.push(...decl);
    return { line: start.line, decl, isAssign, cmds };
  }

  private parseCommand(context: string): Command {
    const first = this.skipSpace();
    const args: Operand[] = [];
    for (;;) {
      const token = this.peek();
      if (token.kind === 'space') {
        this.skipSpace();
        continue;
      }
      if (token.kind === 'pipe' || token.kind === 'rightDelim' || token.kind === 'rightParen') break;
      args.push(this.parseOperand(context));
      const after = this.peek();
      if (after.kind !== 'space' && after.kind !== 'pipe' && after.kind !== 'rightDelim' && after.kind !== 'rightParen')
        this.fail(after, `missing space before ${describe(after)}`);
    }
    if (args.length === 0) this.fail(first, `missing value for ${context}`);
    if (args[0].type === 'nil') this.fail(first, 'nil is not a command');
    return { line: first.line, args };
  }

  private parseOperand(context: string): Operand {
    const token = this.next();
    switch (token.kind) {
      case 'field': {
        const names = [token.value, ...this.chainedFields()];
        return { type: 'field', names, source: '.' + names.join('.') };
      }
      case 'dot':
        return { type: 'dot', source: '.' };
      case 'variable': {
        if (!this.vars.includes(token.value)) this.fail(token, `undefined variable "${token.value}"`);
        const names = this.chainedFields();
        return {
          type: 'variable',
          name: token.value,
          names,
          source: token.value + names.map((n) => '.' + n).join(''),
        };
      }
      case 'identifier':
        if (!this.isFunction(token.value)) this.fail(token, `function "${token.value}" not defined`);
        return { type: 'identifier', name: token.value, source: token.value };
      case 'string':
        return { type: 'string', value: token.value, source: JSON.stringify(token.value) };
      case 'number':
        return { type: 'number', value: parseNumber(token, (m) => this.fail(token, m)), source: token.value };
      case 'bool':
        return { type: 'bool', value: token.value === 'true', source: token.value };
      case 'nil':
        return { type: 'nil', source: 'nil' };
      case 'leftParen': {
        const start = this.i;
        const pipe = this.parsePipeline('parenthesized pipeline', false);
        this.expect('rightParen', 'parenthesized pipeline');
        const inner = this.tokens
          .slice(start, this.i - 1)
          .map((t) => (t.kind === 'string' ? JSON.stringify(t.value) : t.kind === 'field' ? '.' + t.value : t.value))
          .join('');
        const names = this.chainedFields();
        const baseSource = `(${inner.trim()})`;
        return { type: 'chain', pipe, names, baseSource, source: baseSource + names.map((n) => '.' + n).join('') };
      }
      default:
        return this.fail(token, `unexpected ${describe(token)} in ${context}`);
    }
  }

  /** Field names written right after an operand: `.A.B` in `$x.A.B` or `(…).A.B`. */
  private chainedFields(): string[] {
    const names: string[] = [];
    while (this.peek().kind === 'field') names.push(this.next().value);
    return names;
  }
}

function describe(token: Token): string {
  switch (token.kind) {
    case 'eof':
      return 'end of template';
    case 'rightDelim':
      return '"}}"';
    case 'text':
      return 'text';
    case 'string':
      return `quoted string ${JSON.stringify(token.value)}`;
    case 'field':
      return `field .${token.value}`;
    default:
      return `"${token.value}"`;
  }
}

function parseNumber(token: Token, fail: (message: string) => never): number {
  let text = token.value.replace(/_/g, '');
  let sign = 1;
  if (text.startsWith('-') || text.startsWith('+')) {
    sign = text.startsWith('-') ? -1 : 1;
    text = text.slice(1);
  }
  let value: number;
  if (/^0[0-7]+$/.test(text)) value = parseInt(text, 8);
  else value = Number(text);
  if (!Number.isFinite(value)) fail(`bad number syntax: ${JSON.stringify(token.value)}`);
  return sign * value;
}
