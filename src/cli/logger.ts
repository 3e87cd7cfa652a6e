// Structured logs with pino: JSON by default, readable lines in a terminal (or --log-format=text).

import { pino, type Logger } from 'pino';
import { defineFlags, type FlagValues } from './flags.js';

export const loggingFlags = defineFlags({
  'log-level': {
    type: 'string',
    value: 'level',
    default: 'info',
    usage: 'trace, debug, info, warn or error; at debug and trace a failure to start prints its stack trace',
  },
  'log-format': {
    type: 'string',
    value: 'format',
    default: 'auto',
    usage: 'json, text or auto (text in a terminal, else json)',
  },
});

export interface LoggingOptions {
  level: string;
  format: string;
}

export function loggingOptions(flags: FlagValues<typeof loggingFlags>): LoggingOptions {
  return { level: flags['log-level'], format: flags['log-format'] };
}

const levels = [...Object.keys(pino.levels.values), 'silent'];
const formats = ['json', 'text', 'auto'];

export function validateLogging(o: LoggingOptions): string[] {
  const problems: string[] = [];
  if (!levels.includes(o.level)) problems.push(`--log-level must be one of ${levels.join(', ')}, got "${o.level}"`);
  if (!formats.includes(o.format)) problems.push(`--log-format must be json, text or auto, got "${o.format}"`);
  return problems;
}

/** Whether failures should be shown with their stack traces. */
export function isVerbose(o: LoggingOptions): boolean {
  return o.level === 'debug' || o.level === 'trace';
}

export function createLogger(o: LoggingOptions): Logger {
  const text = o.format === 'text' || (o.format === 'auto' && process.stderr.isTTY === true);
  if (text) {
    return pino({
      level: o.level,
      transport: {
        target: 'pino-pretty',
        options: {
          destination: 2,
          colorize: process.stderr.isTTY === true,
          translateTime: 'SYS:HH:MM:ss.l',
          ignore: 'pid,hostname',
        },
      },
    });
  }
  return pino({ level: o.level }, pino.destination(2));
}
