// Structured logs with pino: JSON by default, readable lines in a terminal (or --log-format=text).

import { pino, type Logger } from 'pino';

export function createLogger(level: string, format: 'json' | 'text' | 'auto'): Logger {
  const text = format === 'text' || (format === 'auto' && process.stderr.isTTY === true);
  if (text) {
    return pino({
      level,
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
  return pino({ level }, pino.destination(2));
}
