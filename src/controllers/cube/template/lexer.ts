// The lexer of the Go text/template subset config-file templates use: text between actions, and
// inside `{{ … }}` fields, variables, identifiers, literals, pipes and parentheses. `{{- ` and
// ` -}}` trim the whitespace next to the action, `{{/* … */}}` is a comment (Go's rules).

import { TemplateError } from './errors.js';

export type TokenKind =
  | 'text'
  | 'leftDelim'
  | 'rightDelim'
  | 'field' // .Name (value: "Name")
  | 'dot' // .
  | 'variable' // $ or $name (value: "$name")
  | 'identifier' // function name or keyword
  | 'string' // value: the unquoted string
  | 'number' // value: the literal text
  | 'bool'
  | 'nil'
  | 'pipe'
  | 'leftParen'
  | 'rightParen'
  | 'declare' // :=
  | 'assign' // =
  | 'comma'
  | 'space'
  | 'eof';

export interface Token {
  kind: TokenKind;
  value: string;
  /** Offset of the token in the template text. */
  pos: number;
  /** 1-based line of the token. */
  line: number;
}

const LEFT = '{{';
const RIGHT = '}}';
const LEFT_COMMENT = '/*';
const RIGHT_COMMENT = '*/';
const SPACE = /[ \t\r\n]/;

export function isSpace(ch: string | undefined): boolean {
  return ch !== undefined && SPACE.test(ch);
}

function isAlnum(ch: string | undefined): boolean {
  return ch !== undefined && /[A-Za-z0-9_]/.test(ch);
}

/** Tokens of `text`; whitespace trimming is already applied to the text tokens. */
export function lex(name: string, text: string): Token[] {
  return new Lexer(name, text).run();
}

class Lexer {
  private pos = 0;
  private readonly tokens: Token[] = [];
  /** Whether the previous action ended with ` -}}`, so the next text loses its leading whitespace. */
  private trimNext = false;

  constructor(
    private readonly name: string,
    private readonly text: string,
  ) {}

  run(): Token[] {
    while (this.pos < this.text.length) {
      const start = this.text.indexOf(LEFT, this.pos);
      const end = start < 0 ? this.text.length : start;
      let chunk = this.text.slice(this.pos, end);
      const chunkPos = this.pos;
      if (this.trimNext) chunk = chunk.replace(/^[ \t\r\n]+/, '');
      this.trimNext = false;
      if (start < 0) {
        this.emitText(chunk, chunkPos);
        this.pos = this.text.length;
        break;
      }
      const trimLeft =
        this.text.startsWith('- ', start + 2) || /^-[\t\r\n]/.test(this.text.slice(start + 2, start + 4));
      if (trimLeft) chunk = chunk.replace(/[ \t\r\n]+$/, '');
      this.emitText(chunk, chunkPos);
      this.pos = start + LEFT.length + (trimLeft ? 2 : 0);
      this.lexAction(start);
    }
    this.tokens.push({ kind: 'eof', value: '', pos: this.text.length, line: this.lineAt(this.text.length) });
    return this.tokens;
  }

  private emitText(chunk: string, pos: number): void {
    if (chunk !== '') this.tokens.push({ kind: 'text', value: chunk, pos, line: this.lineAt(pos) });
  }

  private lineStarts: number[] | undefined;

  lineAt(pos: number): number {
    if (!this.lineStarts) {
      this.lineStarts = [0];
      for (let i = 0; i < this.text.length; i++) if (this.text.charCodeAt(i) === 10) this.lineStarts.push(i + 1);
    }
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid] <= pos) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  }

  private fail(pos: number, message: string): never {
    throw new TemplateError(this.name, this.lineAt(pos), message);
  }

  /** Whether the action closes at `pos` (`}}` or ` -}}`); returns the length of the closing text. */
  private rightDelimAt(pos: number): number {
    if (this.text.startsWith(RIGHT, pos)) return RIGHT.length;
    if (isSpace(this.text[pos]) && this.text.startsWith('-' + RIGHT, pos + 1)) return 2 + RIGHT.length;
    return 0;
  }

  private lexAction(open: number): void {
    // A comment fills the whole action.
    let p = this.pos;
    if (this.text.startsWith(LEFT_COMMENT, p)) {
      const close = this.text.indexOf(RIGHT_COMMENT, p + LEFT_COMMENT.length);
      if (close < 0) this.fail(open, 'unclosed comment');
      p = close + RIGHT_COMMENT.length;
      const len = this.rightDelimAt(p);
      if (len === 0) this.fail(open, 'comment ends before closing delimiter');
      this.trimNext = len > RIGHT.length;
      this.pos = p + len;
      return;
    }
    this.tokens.push({ kind: 'leftDelim', value: LEFT, pos: open, line: this.lineAt(open) });
    let depth = 0;
    for (;;) {
      const len = this.rightDelimAt(this.pos);
      if (len > 0) {
        if (depth > 0) this.fail(this.pos, 'unclosed left paren');
        this.tokens.push({ kind: 'rightDelim', value: RIGHT, pos: this.pos, line: this.lineAt(this.pos) });
        this.trimNext = len > RIGHT.length;
        this.pos += len;
        return;
      }
      const start = this.pos;
      const ch = this.text[start];
      if (ch === undefined) this.fail(open, 'unclosed action');
      const push = (kind: TokenKind, value: string, end: number) => {
        this.tokens.push({ kind, value, pos: start, line: this.lineAt(start) });
        this.pos = end;
      };
      if (isSpace(ch)) {
        let end = start;
        // Stops before a space that starts ` -}}`, which closes the action on the next round.
        while (isSpace(this.text[end]) && this.rightDelimAt(end) === 0) end++;
        push('space', ' ', end);
      } else if (ch === '|') push('pipe', '|', start + 1);
      else if (ch === '(') {
        depth++;
        push('leftParen', '(', start + 1);
      } else if (ch === ')') {
        if (depth === 0) this.fail(start, 'unexpected right paren');
        depth--;
        push('rightParen', ')', start + 1);
      } else if (ch === ',') push('comma', ',', start + 1);
      else if (ch === ':' && this.text[start + 1] === '=') push('declare', ':=', start + 2);
      else if (ch === '=') push('assign', '=', start + 1);
      else if (ch === '"') push('string', this.quoted(start), this.pos);
      else if (ch === '`') {
        const close = this.text.indexOf('`', start + 1);
        if (close < 0) this.fail(start, 'unterminated raw quoted string');
        push('string', this.text.slice(start + 1, close), close + 1);
      } else if (ch === "'") push('number', String(this.charConstant(start)), this.pos);
      else if (ch === '$') {
        let end = start + 1;
        while (isAlnum(this.text[end])) end++;
        push('variable', this.text.slice(start, end), end);
      } else if (ch === '.') {
        if (/[0-9]/.test(this.text[start + 1] ?? '')) push('number', this.number(start), this.pos);
        else if (isAlnum(this.text[start + 1])) {
          let end = start + 1;
          while (isAlnum(this.text[end])) end++;
          push('field', this.text.slice(start + 1, end), end);
        } else push('dot', '.', start + 1);
      } else if (/[0-9+-]/.test(ch)) push('number', this.number(start), this.pos);
      else if (/[A-Za-z_]/.test(ch)) {
        let end = start;
        while (isAlnum(this.text[end])) end++;
        const word = this.text.slice(start, end);
        if (word === 'true' || word === 'false') push('bool', word, end);
        else if (word === 'nil') push('nil', word, end);
        else push('identifier', word, end);
      } else this.fail(start, `unexpected ${JSON.stringify(ch)} in action`);
    }
  }

  private number(start: number): string {
    const m = /^[+-]?(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|(\d[\d_]*)?\.?\d*([eE][+-]?\d+)?)/.exec(
      this.text.slice(start),
    );
    const literal = m?.[0] ?? '';
    if (literal === '' || /^[+-]?\.?$/.test(literal) || isAlnum(this.text[start + literal.length])) {
      let end = start + Math.max(literal.length, 1);
      while (isAlnum(this.text[end]) || this.text[end] === '.') end++;
      this.fail(start, `bad number syntax: ${JSON.stringify(this.text.slice(start, end))}`);
    }
    this.pos = start + literal.length;
    return literal;
  }

  private charConstant(start: number): number {
    const m = /^'(\\.|[^\\'])'/u.exec(this.text.slice(start));
    if (!m) this.fail(start, 'bad character constant');
    this.pos = start + m[0].length;
    const body = m[1];
    return body.startsWith('\\')
      ? unescape(body, () => this.fail(start, 'bad escape')).codePointAt(0)!
      : body.codePointAt(0)!;
  }

  private quoted(start: number): string {
    let end = start + 1;
    for (;;) {
      const ch = this.text[end];
      if (ch === undefined || ch === '\n') this.fail(start, 'unterminated quoted string');
      if (ch === '\\') end += 2;
      else if (ch === '"') break;
      else end++;
    }
    this.pos = end + 1;
    return unescape(this.text.slice(start + 1, end), (why) => this.fail(start, why));
  }
}

const SIMPLE_ESCAPES: Record<string, string> = {
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\\': '\\',
  '"': '"',
  "'": "'",
};

/** Go's escape sequences in an interpreted string literal. */
function unescape(body: string, fail: (why: string) => never): string {
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const ch = body[i];
    if (ch !== '\\') {
      out += ch;
      continue;
    }
    const next = body[++i];
    if (next !== undefined && next in SIMPLE_ESCAPES) out += SIMPLE_ESCAPES[next];
    else if (next === 'x' || next === 'u' || next === 'U') {
      const size = next === 'x' ? 2 : next === 'u' ? 4 : 8;
      const hex = body.slice(i + 1, i + 1 + size);
      if (!new RegExp(`^[0-9a-fA-F]{${size}}$`).test(hex)) fail(`invalid escape \\${next}${hex}`);
      out += String.fromCodePoint(parseInt(hex, 16));
      i += size;
    } else if (next !== undefined && /[0-7]/.test(next)) {
      const oct = body.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(oct)) fail(`invalid escape \\${oct}`);
      out += String.fromCharCode(parseInt(oct, 8));
      i += 2;
    } else fail(`unknown escape sequence \\${next ?? ''}`);
  }
  return out;
}
