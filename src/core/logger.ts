// The logger the user passes (pino-compatible: level methods taking an object and a message).

export interface Logger {
  error(object: object, message?: string): void;
  warn(object: object, message?: string): void;
  info(object: object, message?: string): void;
  debug(object: object, message?: string): void;
}

const write = (level: 'error' | 'warn') => (object: object, message?: string) =>
  console[level](`[omnibus] ${message ?? ''}`, object);

/** Without a user logger, only problems are printed, so a library stays quiet when healthy. */
export const consoleLogger: Logger = {
  error: write('error'),
  warn: write('warn'),
  info: () => {},
  debug: () => {},
};
