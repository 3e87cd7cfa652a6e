// The parser of UnitTemplate configuration templates: the syntax of Go's text/template
// (actions in {{ }}, trim markers {{- -}}, comments, pipelines, variables, if/else if/range/with,
// break/continue), so templates written for the Go operators keep working. define, template
// and block are not supported and fail to parse with a message saying so.

export class TemplateError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(`line ${line}: ${message}`);
    this.name = 'TemplateError';
  }
}

export type Arg =
  | { type: 'dot'; line: number }
  | { type: 'field'; names: string[]; line: number }
  | { type: 'variable'; name: string; names: string[]; line: number }
  | { type: 'identifier'; name: string; line: number }
  | { type: 'string'; value: string; line: number }
  | { type: 'number'; value: number; text: string; line: number }
  | { type: 'bool'; value: boolean; line: number }
  | { type: 'nil'; line: number }
  | { type: 'pipe'; pipe: Pipeline; names: string[]; line: number };

export interface Command {
  args: Arg[];
  line: number;
}

export interface Pipeline {
  /** Variables declared (`$x :=`) or assigned (`$x =`). */
  decl: string[];
  assign: boolean;
  cmds: Command[];
  line: number;
  /** The source of the action, for error messages. */
  text: string;
}

export interface Block {
  pipe: Pipeline;
  list: Node[];
  elseList?: Node[];
  line: number;
}

export type Node =
  | { type: 'text'; text: string }
  | { type: 'action'; pipe: Pipeline }
  | ({ type: 'if' } & Block)
  | ({ type: 'with' } & Block)
  | ({ type: 'range' } & Block)
  | { type: 'break' | 'continue'; line: number };

// ---- lexing ---------------------------------------------------------------------------------

type Token =
  | { t: 'field'; v: string }
  | { t: 'variable'; v: string }
  | { t: 'ident'; v: string }
  | { t: 'string'; v: string }
  | { t: 'number'; v: number; text: string }
  | { t: 'char'; v: number }
  | { t: 'dot' }
  | { t: 'declare' }
  | { t: 'assign' }
  | { t: 'pipe' }
  | { t: 'lparen' }
  | { t: 'rparen' }
  | { t: 'comma' }
  | { t: 'space' };

function lexAction(src: string, line: number): Token[] {
  const out: Token[] = [];
  let i = 0;
  const fail = (msg: string): never => {
    throw new TemplateError(msg, line);
  };
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      while (i < src.length && /\s/.test(src[i]!)) i++;
      out.push({ t: 'space' });
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      let s = '';
      while (j < src.length && src[j] !== '"') {
        if (src[j] === '\\') {
          const e = src[j + 1];
          const map: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', "'": "'", '0': '\0' };
          if (e === undefined) fail('unterminated quoted string');
          if (e === 'x' || e === 'u') {
            const len = e === 'x' ? 2 : 4;
            const hex = src.slice(j + 2, j + 2 + len);
            if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== len) fail(`invalid escape \\${e}${hex}`);
            s += String.fromCodePoint(parseInt(hex, 16));
            j += 2 + len;
            continue;
          }
          if (!(e! in map)) fail(`unknown escape sequence \\${e}`);
          s += map[e!];
          j += 2;
          continue;
        }
        if (src[j] === '\n') fail('unterminated quoted string');
        s += src[j];
        j++;
      }
      if (j >= src.length) fail('unterminated quoted string');
      out.push({ t: 'string', v: s });
      i = j + 1;
      continue;
    }
    if (c === '`') {
      const j = src.indexOf('`', i + 1);
      if (j < 0) fail('unterminated raw quoted string');
      out.push({ t: 'string', v: src.slice(i + 1, j) });
      i = j + 1;
      continue;
    }
    if (c === "'") {
      const m = /^'(\\.|[^\\'])'/.exec(src.slice(i));
      if (!m) fail('malformed character constant');
      const body = m![1]!;
      out.push({
        t: 'char',
        v: body.startsWith('\\') ? ({ n: 10, t: 9, r: 13 }[body[1]!] ?? body.codePointAt(1)!) : body.codePointAt(0)!,
      });
      i += m![0].length;
      continue;
    }
    if (c === ':' && src[i + 1] === '=') {
      out.push({ t: 'declare' });
      i += 2;
      continue;
    }
    if (c === '=') {
      out.push({ t: 'assign' });
      i++;
      continue;
    }
    if (c === '|') {
      out.push({ t: 'pipe' });
      i++;
      continue;
    }
    if (c === '(') {
      out.push({ t: 'lparen' });
      i++;
      continue;
    }
    if (c === ')') {
      out.push({ t: 'rparen' });
      i++;
      continue;
    }
    if (c === ',') {
      out.push({ t: 'comma' });
      i++;
      continue;
    }
    if (c === '$') {
      const m = /^\$[A-Za-z0-9_]*/.exec(src.slice(i))!;
      out.push({ t: 'variable', v: m[0] });
      i += m[0].length;
      continue;
    }
    if (c === '.') {
      const m = /^\.[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
      if (m) {
        out.push({ t: 'field', v: m[0].slice(1) });
        i += m[0].length;
        continue;
      }
      if (/[0-9]/.test(src[i + 1] ?? '')) {
        // a number such as .5
      } else {
        out.push({ t: 'dot' });
        i++;
        continue;
      }
    }
    const num = /^[+-]?(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|(\d[\d_]*)?\.?\d[\d_]*([eE][+-]?\d+)?)/.exec(
      src.slice(i),
    );
    if (num && num[0] !== '' && /[0-9]/.test(num[0])) {
      const text = num[0];
      const clean = text.replace(/_/g, '');
      const value = /^[+-]?0[xXbBoO]/.test(clean)
        ? (clean.startsWith('-') ? -1 : 1) * Number(clean.replace(/^[+-]/, ''))
        : Number(clean);
      if (!Number.isFinite(value)) fail(`bad number syntax: ${JSON.stringify(text)}`);
      out.push({ t: 'number', v: value, text });
      i += text.length;
      continue;
    }
    const id = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
    if (id) {
      out.push({ t: 'ident', v: id[0] });
      i += id[0].length;
      continue;
    }
    fail(`unexpected ${JSON.stringify(c)} in command`);
  }
  return out;
}

// ---- parsing --------------------------------------------------------------------------------

interface RawAction {
  kind: 'text' | 'action';
  text: string;
  line: number;
}

/** Splits the source into text and actions, applying trim markers and dropping comments. */
function split(src: string): RawAction[] {
  const out: RawAction[] = [];
  let i = 0;
  let line = 1;
  let trimNext = false;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    let text = open < 0 ? src.slice(i) : src.slice(i, open);
    if (trimNext) text = text.replace(/^\s+/, '');
    trimNext = false;
    if (open < 0) {
      if (text) out.push({ kind: 'text', text, line });
      break;
    }
    const leftTrim = /^\{\{- /.test(src.slice(open)) || /^\{\{-\t|^\{\{-\n|^\{\{-\r/.test(src.slice(open));
    if (leftTrim) text = text.replace(/\s+$/, '');
    line += (src.slice(i, open).match(/\n/g) ?? []).length;
    if (text) out.push({ kind: 'text', text, line });
    const start = open + 2 + (leftTrim ? 1 : 0);
    const actionLine = line;
    // A comment: {{/* ... */}}
    const afterSpace = src.slice(start).replace(/^\s*/, '');
    const skipped = src.slice(start).length - afterSpace.length;
    if (afterSpace.startsWith('/*')) {
      const endComment = src.indexOf('*/', start + skipped + 2);
      if (endComment < 0) throw new TemplateError('unclosed comment', actionLine);
      let k = endComment + 2;
      let rightTrim = false;
      const rest = src.slice(k);
      const m = /^(\s*)(-?)\}\}/.exec(rest);
      if (!m) throw new TemplateError('comment ends before closing delimiter', actionLine);
      if (m[2] === '-' && m[1] !== '') rightTrim = true;
      k += m[0].length;
      line += (src.slice(open, k).match(/\n/g) ?? []).length;
      trimNext = rightTrim;
      i = k;
      continue;
    }
    // Find the closing delimiter outside of quoted strings.
    let j = start;
    let quote: string | undefined;
    for (; j < src.length; j++) {
      const c = src[j];
      if (quote) {
        if (c === '\\' && quote === '"') j++;
        else if (c === quote) quote = undefined;
        continue;
      }
      if (c === '"' || c === '`') quote = c;
      else if (src.startsWith('}}', j)) break;
    }
    if (j >= src.length) throw new TemplateError('unclosed action', actionLine);
    let body = src.slice(start, j);
    if (/\s-$/.test(body)) {
      body = body.slice(0, -1);
      trimNext = true;
    }
    out.push({ kind: 'action', text: body.trim(), line: actionLine });
    line += (src.slice(open, j + 2).match(/\n/g) ?? []).length;
    i = j + 2;
  }
  return out;
}

class TokenStream {
  private i = 0;
  constructor(
    private readonly tokens: Token[],
    readonly line: number,
  ) {}

  peek(): Token | undefined {
    this.skipSpace();
    return this.tokens[this.i];
  }

  /** The next token, spaces included (to tell `.a.b` from `.a .b`). */
  peekRaw(): Token | undefined {
    return this.tokens[this.i];
  }

  next(): Token | undefined {
    this.skipSpace();
    return this.tokens[this.i++];
  }

  nextRaw(): Token | undefined {
    return this.tokens[this.i++];
  }

  skipSpace(): void {
    while (this.tokens[this.i]?.t === 'space') this.i++;
  }

  fail(msg: string): never {
    throw new TemplateError(msg, this.line);
  }
}

function parseFieldChain(ts: TokenStream): string[] {
  const names: string[] = [];
  while (ts.peekRaw()?.t === 'field') names.push((ts.nextRaw() as { v: string }).v);
  return names;
}

function parseOperand(ts: TokenStream, text: string): Arg | undefined {
  const tok = ts.peek();
  const line = ts.line;
  if (!tok) return undefined;
  switch (tok.t) {
    case 'field': {
      ts.next();
      return { type: 'field', names: [tok.v, ...parseFieldChain(ts)], line };
    }
    case 'dot':
      ts.next();
      if (ts.peekRaw()?.t === 'field') ts.fail('unexpected . after term "."');
      return { type: 'dot', line };
    case 'variable':
      ts.next();
      return { type: 'variable', name: tok.v, names: parseFieldChain(ts), line };
    case 'string':
      ts.next();
      return { type: 'string', value: tok.v, line };
    case 'number':
      ts.next();
      return { type: 'number', value: tok.v, text: tok.text, line };
    case 'char':
      ts.next();
      return { type: 'number', value: tok.v, text: String(tok.v), line };
    case 'ident': {
      ts.next();
      if (tok.v === 'true' || tok.v === 'false') return { type: 'bool', value: tok.v === 'true', line };
      if (tok.v === 'nil') return { type: 'nil', line };
      return { type: 'identifier', name: tok.v, line };
    }
    case 'lparen': {
      ts.next();
      const pipe = parsePipeline(ts, text, 'rparen');
      if (ts.nextRaw()?.t !== 'rparen') ts.fail('unclosed left paren');
      return { type: 'pipe', pipe, names: parseFieldChain(ts), line };
    }
    default:
      return undefined;
  }
}

function parsePipeline(ts: TokenStream, text: string, end?: 'rparen'): Pipeline {
  const pipe: Pipeline = { decl: [], assign: false, cmds: [], line: ts.line, text };
  // Declarations: `$x :=`, `$x =`, `$i, $v :=`.
  const save = (ts as unknown as { i: number }).i;
  const vars: string[] = [];
  let tok = ts.peek();
  while (tok?.t === 'variable') {
    ts.next();
    vars.push(tok.v);
    const sep = ts.peek();
    if (sep?.t === 'comma') {
      ts.next();
      tok = ts.peek();
      continue;
    }
    if (sep?.t === 'declare' || sep?.t === 'assign') {
      ts.next();
      pipe.decl = vars;
      pipe.assign = sep.t === 'assign';
    }
    break;
  }
  if (pipe.decl.length === 0) (ts as unknown as { i: number }).i = save;
  for (;;) {
    const cmd: Command = { args: [], line: ts.line };
    for (;;) {
      const next = ts.peek();
      if (!next || next.t === 'pipe' || (end && next.t === end)) break;
      const arg = parseOperand(ts, text);
      if (!arg) ts.fail(`unexpected ${describe(next)} in operand`);
      cmd.args.push(arg!);
    }
    if (cmd.args.length === 0)
      ts.fail(pipe.cmds.length === 0 ? 'missing value for command' : 'missing command after |');
    pipe.cmds.push(cmd);
    if (ts.peek()?.t !== 'pipe') break;
    ts.next();
  }
  return pipe;
}

function describe(t: Token): string {
  switch (t.t) {
    case 'rparen':
      return '")"';
    case 'comma':
      return '","';
    case 'declare':
      return '":="';
    case 'assign':
      return '"="';
    default:
      return `<${t.t}>`;
  }
}

function actionPipeline(text: string, line: number): Pipeline {
  const ts = new TokenStream(lexAction(text, line), line);
  const pipe = parsePipeline(ts, text);
  if (ts.peek()) ts.fail(`unexpected ${describe(ts.peek()!)} in command`);
  return pipe;
}

const keywordRe = /^(if|else|end|range|with|define|template|block|break|continue)\b\s*/;

/** Parses a template into a tree; throws TemplateError naming the line of the problem. */
export function parseTemplate(src: string): Node[] {
  const items = split(src);
  let pos = 0;

  type Frame = Block & { type: 'if' | 'with' | 'range' };

  function parseList(inRange: boolean): {
    nodes: Node[];
    end: 'end' | 'else' | 'eof';
    elseText?: string;
    line: number;
  } {
    const nodes: Node[] = [];
    while (pos < items.length) {
      const item = items[pos++]!;
      if (item.kind === 'text') {
        nodes.push({ type: 'text', text: item.text });
        continue;
      }
      if (item.text === '') throw new TemplateError('missing value for command', item.line);
      const kw = keywordRe.exec(item.text);
      if (!kw) {
        nodes.push({ type: 'action', pipe: actionPipeline(item.text, item.line) });
        continue;
      }
      const word = kw[1]!;
      const rest = item.text.slice(kw[0].length);
      switch (word) {
        case 'end':
          if (rest) throw new TemplateError(`unexpected ${JSON.stringify(rest)} in end`, item.line);
          return { nodes, end: 'end', line: item.line };
        case 'else':
          return { nodes, end: 'else', elseText: rest, line: item.line };
        case 'if':
        case 'with':
        case 'range':
          nodes.push(parseControl(word, rest, item.line, inRange) as Node);
          continue;
        case 'break':
        case 'continue':
          if (!inRange) throw new TemplateError(`{{${word}}} outside {{range}}`, item.line);
          if (rest) throw new TemplateError(`unexpected ${JSON.stringify(rest)} in ${word}`, item.line);
          nodes.push({ type: word, line: item.line });
          continue;
        default:
          throw new TemplateError(`{{${word}}} is not supported in configuration templates`, item.line);
      }
    }
    return { nodes, end: 'eof', line: items.at(-1)?.line ?? 1 };
  }

  function parseControl(word: 'if' | 'with' | 'range', text: string, line: number, inRange: boolean): Frame {
    if (!text) throw new TemplateError(`missing value for ${word}`, line);
    const pipe = actionPipeline(text, line);
    if (word !== 'range' && pipe.decl.length > 1) throw new TemplateError(`too many declarations in ${word}`, line);
    if (word === 'range' && pipe.decl.length > 2) throw new TemplateError('too many declarations in range', line);
    const body = parseList(word === 'range' || inRange);
    const frame: Frame = { type: word, pipe, list: body.nodes, line };
    if (body.end === 'eof') throw new TemplateError(`unexpected EOF: {{${word}}} without {{end}}`, line);
    if (body.end === 'else') {
      const elseText = body.elseText ?? '';
      const chained = /^(if|with)\b\s*/.exec(elseText);
      if (chained) {
        if (chained[1] !== word) throw new TemplateError(`{{else ${chained[1]}}} inside {{${word}}}`, body.line);
        // {{else if x}} ... {{end}} closes the outer block too.
        frame.elseList = [parseControl(word, elseText.slice(chained[0].length), body.line, inRange) as Node];
      } else {
        if (elseText) throw new TemplateError(`unexpected ${JSON.stringify(elseText)} in else`, body.line);
        const elseBody = parseList(inRange);
        if (elseBody.end === 'else') throw new TemplateError('expected end; found {{else}}', elseBody.line);
        if (elseBody.end === 'eof') throw new TemplateError(`unexpected EOF: {{${word}}} without {{end}}`, line);
        frame.elseList = elseBody.nodes;
      }
    }
    return frame;
  }

  const top = parseList(false);
  if (top.end === 'end') throw new TemplateError('unexpected {{end}}', top.line);
  if (top.end === 'else') throw new TemplateError('unexpected {{else}}', top.line);
  return top.nodes;
}
