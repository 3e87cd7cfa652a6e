// The table of upm-engine's subcommands: a new one is a module exporting a Command and a row here.

import { apiserverCommand } from './apiserver.js';
import type { Command } from './command.js';
import { controllersCommand } from './controllers.js';
import { localCommand } from './local.js';
import { nodeCommand } from './node.js';
import { webhooksCommand } from './webhooks.js';

export const commands: readonly Command[] = [
  localCommand,
  apiserverCommand,
  controllersCommand,
  webhooksCommand,
  nodeCommand,
];
