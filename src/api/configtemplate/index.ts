// Configuration templates of UnitTemplates (spec.configFiles[].template): Go text/template
// syntax, rendered for every Unit with its parameter values. The API server, the webhooks and
// the controllers render them with this one implementation.

import { parse as parseYAML } from 'yaml';
import { execute } from './exec.js';
import { templateFunctions } from './functions.js';
import { parseTemplate, TemplateError, type Node } from './parse.js';

export { TemplateError } from './parse.js';
export { sprintf } from './functions.js';

/** What a configuration template sees (the dot). */
export interface ConfigTemplateData {
  /** Values by parameter name, typed: integer and number as numbers, boolean as booleans, the rest as text. */
  Parameters: Record<string, unknown>;
  Unit: { name: string; namespace: string; ordinal: number; unitSet: string; address: string };
  /** cpu in millicores, memory (and other resources) in bytes. */
  Resources: { requests: Record<string, number>; limits: Record<string, number> };
  Env: Record<string, string>;
}

export interface RenderOptions {
  /** Parameters the template declares; an undeclared name gets "is not declared" in errors. */
  declaredParameters?: ReadonlySet<string>;
}

export type ConfigFormat = 'ini' | 'conf' | 'yaml' | 'json' | 'toml' | 'properties' | 'xml' | 'libconfig' | 'text';

export function compileTemplate(src: string): Node[] {
  return parseTemplate(src);
}

function missingKeyMessage(declared: ReadonlySet<string> | undefined) {
  return (path: string[], key: string): string => {
    if (path.length === 1 && path[0] === 'Parameters') {
      if (declared?.has(key)) return `parameter ${JSON.stringify(key)} has no default and no value`;
      return `parameter ${JSON.stringify(key)} is not declared in spec.parameters`;
    }
    const where = path.length ? `.${path.join('.')}` : 'the template data';
    return `${where} has no entry for key ${JSON.stringify(key)}`;
  };
}

/** Renders a template; throws TemplateError (`line N: ...`) when it does not parse or execute. */
export function renderTemplate(src: string | Node[], data: ConfigTemplateData, opts: RenderOptions = {}): string {
  const nodes = typeof src === 'string' ? parseTemplate(src) : src;
  const missingKey = missingKeyMessage(opts.declaredParameters);
  return execute(nodes, data, { functions: templateFunctions(missingKey), missingKey });
}

/** Whether rendered text is well-formed for its format; the reason when not. Formats without a parser pass. */
export function checkRenderedFormat(format: ConfigFormat, text: string): string | undefined {
  try {
    if (format === 'json') JSON.parse(text);
    else if (format === 'yaml') parseYAML(text);
    else if (format === 'ini' || format === 'conf' || format === 'properties') return checkLines(format, text);
  } catch (err) {
    return `the rendered file is not valid ${format}: ${(err as Error).message.split('\n')[0]}`;
  }
  return undefined;
}

function checkLines(format: 'ini' | 'conf' | 'properties', text: string): string | undefined {
  const lines = text.split('\n');
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';') || line.startsWith('!')) continue;
    if (format === 'ini' && /^\[[^\]]+\]$/.test(line)) continue;
    if (format === 'ini' && line.startsWith('[')) return `the rendered file is not valid ini: line ${i + 1}: ${line}`;
    if (format === 'ini' && line.startsWith('!include')) continue;
  }
  return undefined;
}

export function isTemplateError(err: unknown): err is TemplateError {
  return err instanceof TemplateError;
}
