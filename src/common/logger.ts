// Structured logs (pino). Anything that looks like a credential is redacted wherever it appears.
import { pino, type Logger } from 'pino';

export type { Logger };

const REDACT = [
  'token', '*.token', 'password', '*.password', 'secret', '*.secret', 'credential', '*.credential',
  'authorization', '*.authorization', 'headers.authorization', 'redisUrl', '*.redisUrl',
];

export function createLogger(name: string, level = process.env.SPILLWAY_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level, redact: { paths: REDACT, censor: '[redacted]' }, base: { pid: process.pid } });
}

/** For tests and embedded use: a logger that writes nothing. */
export const silentLogger: Logger = pino({ level: 'silent' });

/** Redis URLs may carry a password; show them without it. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}
