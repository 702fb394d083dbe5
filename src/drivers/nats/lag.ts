// A group's lag in JetStream: its durable consumer's num_pending (matching messages not yet
// delivered) plus num_ack_pending (delivered, not acked), over every stream the pattern reads.

import type { LagSpec } from '../../core/driver.js';
import { durableName, type JetStreamLink } from './jetstream.js';

export async function jetStreamLag(link: JetStreamLink, spec: LagSpec): Promise<number> {
  const name = durableName(spec.group, spec.pattern);
  // Without creating any: a stream that does not exist yet holds nothing to lag behind.
  const streams = await link.streams.capturing(link.subject(spec.pattern));
  const counts = await Promise.all(
    streams.map(async (stream) => {
      try {
        const info = await link.jsm.consumers.info(stream, name);
        return info.num_pending + info.num_ack_pending;
      } catch (error) {
        // The group has no consumer on a stream created after its members last subscribed.
        if ((error as Error)?.name === 'ConsumerNotFoundError') return 0;
        throw error;
      }
    }),
  );
  return counts.reduce((sum, count) => sum + count, 0);
}
