// The logger the user passes (pino-compatible: level methods taking an object and a message,
// so a pino logger is one as it is). Without one, the library says nothing.

export interface Logger {
  error(object: object, message?: string): void;
  warn(object: object, message?: string): void;
  info(object: object, message?: string): void;
  debug(object: object, message?: string): void;
}

const nothing = () => {};

/** The default: a library stays silent unless given a logger; the bus's `error` event still reports. */
export const silentLogger: Logger = { error: nothing, warn: nothing, info: nothing, debug: nothing };
