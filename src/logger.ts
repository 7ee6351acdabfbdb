import pino, { type Logger, type LoggerOptions } from 'pino';
import type { Config } from './config';

/**
 * pino, JSON lines everywhere but a developer's terminal: outside production, when stdout is a
 * terminal (and LOG_FORMAT is not json), lines are printed readable by pino-pretty, in-process.
 */
export function createLogger(config: Config): Logger {
  const options: LoggerOptions = {
    level: config.logLevel,
    base: { service: 'switchboard' },
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        '*.password',
        '*.currentPassword',
        '*.newPassword',
        '*.refreshToken',
        '*.accessToken',
        '*.secret',
        'variables',
      ],
      censor: '[redacted]',
    },
  };
  const pretty =
    config.logFormat === 'pretty' ||
    (config.logFormat === 'auto' && !config.isProduction && process.stdout.isTTY === true);
  // Lines are written by a worker of libuv's pool, those that come while one is being written
  // together after it, instead of one synchronous write each on the event loop (a burst of
  // requests made hundreds). pino writes what is still buffered when the process exits.
  if (!pretty) return pino(options, pino.destination({ dest: 1, sync: false }));
  // Loaded only here: production never loads it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const prettyStream = require('pino-pretty') as (o: object) => NodeJS.WritableStream;
  return pino(
    options,
    prettyStream({
      colorize: true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,service',
    }),
  );
}
