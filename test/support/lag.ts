// Shared by the lag tests: a driver whose `lag` answers as a test says (fails, hangs, a
// figure), over the memory driver for everything else.

import type { Driver } from '../../src/core/driver.js';
import { memory } from '../../src/drivers/memory/index.js';

export function memoryWithLag(lag: NonNullable<Driver['lag']>): Driver {
  const base = memory();
  return {
    name: base.name,
    capabilities: base.capabilities,
    carriesValues: base.carriesValues,
    publish: (batch) => base.publish(batch),
    subscribe: (spec, deliver) => base.subscribe(spec, deliver),
    close: () => base.close(),
    lag,
  };
}
