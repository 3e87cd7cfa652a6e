// Config-file templates in Go text/template syntax, rendered by our own interpreter (no eval, no
// new Function): parse once, execute against data many times. See funcs.ts for the functions.

import { TemplateError } from './errors.js';
import { defaultLimits, execute, type ExecLimits } from './exec.js';
import { builtinFunctions, type TemplateFunction } from './funcs.js';
import { parse, type Node } from './parser.js';

export { TemplateError };
export type { TemplateFunction };

/** Functions every template may call (and, or are handled by the executor). */
export const templateFunctionNames: readonly string[] = ['and', 'or', ...Object.keys(builtinFunctions)].sort();

export interface ParsedTemplate {
  /** The name errors are reported under (the config file name). */
  readonly name: string;
  /** Renders the template; throws TemplateError naming the file, line and what was wrong. */
  execute(data: unknown, limits?: ExecLimits): string;
}

/** Parses a template; throws TemplateError (file, line, message) on a syntax error or unknown function. */
export function parseTemplate(name: string, text: string): ParsedTemplate {
  const functions = builtinFunctions;
  const isFunction = (fn: string) => fn === 'and' || fn === 'or' || Object.hasOwn(functions, fn);
  const nodes: Node[] = parse(name, text, isFunction);
  return {
    name,
    execute: (data, limits = defaultLimits) => execute(name, nodes, data, functions, limits),
  };
}

/** Parses and renders in one step. */
export function renderTemplate(name: string, text: string, data: unknown): string {
  return parseTemplate(name, text).execute(data);
}
