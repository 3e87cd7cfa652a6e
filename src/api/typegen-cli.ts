// Writes src/api/generated/types.ts from the upm.io definitions.
//
//   npm run build && node dist/api/typegen-cli.js [--out <file>] [--check]
//
// The output path is resolved against the current directory (run it from the repository
// root). --check writes nothing and exits with status 1 when the file is missing or stale.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { upmResources } from './index.js';
import { generateTypes } from './typegen.js';

export const DEFAULT_OUT = 'src/api/generated/types.ts';

function main(argv: string[]): number {
  let out = DEFAULT_OUT;
  let check = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--out' && i + 1 < argv.length) out = argv[++i]!;
    else if (arg?.startsWith('--out=')) out = arg.slice('--out='.length);
    else if (arg === '--check') check = true;
    else {
      process.stderr.write(`usage: typegen-cli [--out <file>] [--check]\nunknown argument: ${arg}\n`);
      return 2;
    }
  }
  const path = resolve(process.cwd(), out);
  const text = generateTypes(upmResources);
  if (check) {
    let current = '';
    try {
      current = readFileSync(path, 'utf8');
    } catch {
      // missing counts as stale
    }
    if (current !== text) {
      process.stderr.write(`${path} is stale: run npm run build && node dist/api/typegen-cli.js\n`);
      return 1;
    }
    return 0;
  }
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  process.stdout.write(`wrote ${path}\n`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
