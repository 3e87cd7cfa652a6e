// Compiling and running the CEL expressions of ValidatingAdmissionPolicies (and webhook
// matchConditions) on @marcbachmann/cel-js with the Kubernetes libraries (library.ts).
//
// Compilation parses and type-checks against the declared variables, so an unknown function or
// variable (authorizer, a library this server lacks) is a compile error even where evaluation
// would never reach it (`true || nosuch()`): an unsupported expression never passes silently.
// Limits stand in for kube's cost estimation: expression length, AST size and depth, and how
// deeply comprehensions (all, exists, map, filter, ...) nest. Values enter as JSON with integers
// as CEL ints (bigint), as kube decodes them.

import { Environment, type ASTNode } from '@marcbachmann/cel-js';
import { isPlainObject } from '../../../machinery/object.js';
import { registerKubernetesLibraries } from './library.js';
import { compileGuardedRegex } from './regex-guard.js';

export class CELCompileError extends Error {}

/** kube's MaxExpressionLength for validation expressions is about 5 KiB. */
export const MAX_EXPRESSION_LENGTH = 5120;
export const MAX_COMPREHENSION_NESTING = 3;

const comprehensions = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);
const regexFunctions = new Set(['matches', 'find', 'findAll']);

export interface Program {
  expression: string;
  /** Runs the expression; throws on evaluation errors (no such key, division by zero, ...). */
  evaluate(activation: Record<string, unknown>): unknown;
}

const environments = new Map<string, Environment>();

/** The environment declaring `variables` (all dyn), with the Kubernetes libraries. */
function environment(variables: readonly string[]): Environment {
  const key = [...variables].sort().join(',');
  let env = environments.get(key);
  if (!env) {
    env = registerKubernetesLibraries(
      new Environment({
        enableOptionalTypes: true,
        homogeneousAggregateLiterals: false,
        limits: { maxAstNodes: 5000, maxDepth: 64, maxListElements: 1000, maxMapEntries: 1000, maxCallArguments: 32 },
      }),
    );
    for (const v of variables) env.registerVariable(v, 'dyn');
    environments.set(key, env);
  }
  return env;
}

function isNode(v: unknown): v is ASTNode {
  return isPlainObject(v) || (typeof v === 'object' && v !== null && 'op' in v && 'args' in v);
}

/** Checks what type checking does not: regex literals, comprehension nesting. */
function inspect(node: unknown, depth: number): void {
  if (Array.isArray(node)) {
    for (const n of node) inspect(n, depth);
    return;
  }
  if (!isNode(node)) return;
  const { op, args } = node as { op: string; args: unknown };
  let inner = depth;
  if ((op === 'rcall' || op === 'call') && Array.isArray(args) && typeof args[0] === 'string') {
    const name = args[0];
    if (op === 'rcall' && comprehensions.has(name)) {
      inner = depth + 1;
      if (inner > MAX_COMPREHENSION_NESTING)
        throw new CELCompileError(
          `comprehensions (all, exists, map, filter, ...) nest more than ${MAX_COMPREHENSION_NESTING} deep; the cost of such an expression is not bounded here`,
        );
    }
    if (regexFunctions.has(name)) {
      const callArgs = (op === 'rcall' ? args[2] : (args[1] as unknown[])?.slice(1)) as unknown[] | undefined;
      const pattern = callArgs?.[0] as { op?: string; args?: unknown } | undefined;
      if (pattern?.op === 'value' && typeof pattern.args === 'string') {
        if (name === 'matches' && /^\(\?[a-zA-Z]+\)/.test(pattern.args))
          throw new CELCompileError(
            `matches() here does not support RE2 flag groups such as (?i) in ${JSON.stringify(pattern.args)}; find() and findAll() do`,
          );
        try {
          compileGuardedRegex(pattern.args);
        } catch (err) {
          throw new CELCompileError((err as Error).message);
        }
      }
    }
  }
  if (Array.isArray(args)) for (const a of args) inspect(a, inner);
  else inspect(args, inner);
}

/** Compiles `expression` for an activation with `variables`; throws CELCompileError with kube-like text. */
export function compileCEL(expression: string, variables: readonly string[]): Program {
  if (expression.length > MAX_EXPRESSION_LENGTH)
    throw new CELCompileError(`expression is longer than ${MAX_EXPRESSION_LENGTH} characters`);
  const env = environment(variables);
  let parsed;
  try {
    parsed = env.parse(expression);
  } catch (err) {
    throw new CELCompileError(`compilation failed: ${firstLine(err)}`);
  }
  const checked = parsed.check();
  if (!checked.valid) throw new CELCompileError(`compilation failed: ${firstLine(checked.error)}`);
  inspect(parsed.ast, 0);
  return {
    expression,
    evaluate(activation) {
      return parsed(activation);
    },
  };
}

export function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0]!;
}

/** JSON as CEL sees it: integers become ints (bigint); everything else is kept. */
export function toCEL(value: unknown): unknown {
  if (typeof value === 'number') return Number.isInteger(value) && Number.isSafeInteger(value) ? BigInt(value) : value;
  if (Array.isArray(value)) return value.map(toCEL);
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = toCEL(v);
    return out;
  }
  return value;
}

/** A CEL result as JSON (ints as numbers), for messages and audit annotations. */
export function fromCEL(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (Array.isArray(value)) return value.map(fromCEL);
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), fromCEL(v)]));
  if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fromCEL(v)]));
  return value;
}
