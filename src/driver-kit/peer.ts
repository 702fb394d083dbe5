// A driver's broker client is an optional peer dependency, imported on first use, so a
// program that never uses the driver never needs the package; one that does and lacks it is
// told how to install it, as a ConfigurationError (retrying cannot help).

import { ConfigurationError } from '../core/errors.js';

/** `importer` is the driver's own dynamic import of the package, so bundlers and Node resolve it from the driver. */
export async function loadPeer<T>(driver: string, name: string, importer: () => Promise<T>, range = ''): Promise<T> {
  try {
    return await importer();
  } catch (cause) {
    const code = (cause as { code?: unknown })?.code;
    if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') throw cause;
    throw new ConfigurationError(`the ${driver} driver needs the '${name}' package${range}; install it with: npm install ${name}`, { cause });
  }
}
