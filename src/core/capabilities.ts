// What a bus can do as a whole: what every one of its drivers can do, so code written
// against `bus.capabilities` holds whichever driver a topic routes to.

import type { Capabilities } from './driver.js';

/** Weakest first, as drivers promise them. */
const ORDER: Capabilities['ordering'][] = ['none', 'key', 'global'];

/** Whether promising `ordering` keeps at least the promise of `wanted` ('global' keeps 'key'). */
export function orderingCovers(ordering: Capabilities['ordering'], wanted: Capabilities['ordering']): boolean {
  return ORDER.indexOf(ordering) >= ORDER.indexOf(wanted);
}

/** The capabilities all of `each` share: a flag only if every driver has it, the weakest ordering, the smallest payload limit. */
export function combineCapabilities(each: ReadonlyArray<Capabilities>): Capabilities {
  const all = (name: 'persistent' | 'groups' | 'replay' | 'dedupe' | 'nativeWildcards' | 'ackDeadline' | 'delayedDelivery') => each.every((c) => c[name]);
  return {
    persistent: all('persistent'),
    groups: all('groups'),
    replay: all('replay'),
    dedupe: all('dedupe'),
    // The shortest window, when every driver states one: an id is remembered at least that long on any of them.
    ...(all('dedupe') && each.every((c) => c.dedupeWindowMs !== undefined) ? { dedupeWindowMs: Math.min(...each.map((c) => c.dedupeWindowMs!)) } : {}),
    ordering: ORDER[Math.min(...each.map((c) => ORDER.indexOf(c.ordering)))],
    nativeWildcards: all('nativeWildcards'),
    maxPayloadBytes: Math.min(...each.map((c) => c.maxPayloadBytes)),
    ackDeadline: all('ackDeadline'),
    delayedDelivery: all('delayedDelivery'),
  };
}
