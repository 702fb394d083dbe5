// The driver's connection: amqplib (loaded on first use) with its own recovery, which
// reconnects with backoff after a loss and runs the driver's setup again on each connection.
// The first attempt fails at once instead, so an unreachable broker is a ConnectionError.

import type { ChannelModel, RecoveringChannelModel } from 'amqplib';
import type { FailureKind } from '../../driver-kit/failure.js';
import { loadPeer } from '../../driver-kit/peer.js';

export const DEFAULT_URL = 'amqp://guest:guest@127.0.0.1:5672';

export interface ConnectionSettings {
  url: string;
  /** The `connection_name` RabbitMQ shows for it (`rabbitmqctl list_connections client_properties`). */
  name: string;
  reconnect: { initialMs: number; maxMs: number };
  /** Runs on every connection, the first included, before it is used. */
  setup(model: ChannelModel): Promise<void>;
}

export async function openConnection(settings: ConnectionSettings): Promise<RecoveringChannelModel> {
  // 2.2 brought `initialMaxRetries`, without which the first attempt would retry forever.
  const amqp = await loadPeer('amqp', 'amqplib', () => import('amqplib'), ' (>=2.2.0)');
  return amqp.connect(settings.url, {
    clientProperties: { connection_name: settings.name },
    // Publishes, acks and their qos barrier share one socket: Nagle would hold each small frame for the last one's TCP ack.
    noDelay: true,
    recovery: {
      initialDelay: settings.reconnect.initialMs,
      maxDelay: settings.reconnect.maxMs,
      initialMaxRetries: 0,
      maxRetries: Infinity,
      setup: settings.setup,
    },
  });
}

interface Muxer {
  out?: { cork?(): void; uncork?(): void };
  _readIncoming?: () => void;
}

/**
 * amqplib's multiplexer writes each message's frames to the socket with a write of their
 * own; corked for the length of one of its passes, the frames of a pass (a turn's publishes
 * and acks) leave in one. The multiplexer is amqplib's internal: where it is not there,
 * frames go out one by one as before.
 */
export function writePassesWhole(model: ChannelModel): void {
  const muxer = (model.connection as unknown as { muxer?: Muxer }).muxer;
  const socket = muxer?.out;
  const pass = muxer?._readIncoming;
  if (muxer === undefined || socket?.cork === undefined || socket.uncork === undefined || pass === undefined) return;
  muxer._readIncoming = () => {
    socket.cork!();
    try {
      pass.call(muxer);
    } finally {
      socket.uncork!();
    }
  };
}

/** Quorum queues came with RabbitMQ 3.8; older servers get a durable classic queue per group. */
export function hasQuorumQueues(model: ChannelModel): boolean {
  const version = String(model.connection.serverProperties.version ?? '');
  const [major, minor] = version.split('.').map(Number);
  return major > 3 || (major === 3 && minor >= 8);
}

/**
 * What a failed call means: the broker unreachable or the connection gone, or a refusal it
 * answered with (credentials, a vhost or permission it denies, an argument it will not take).
 */
export function classify(error: unknown): FailureKind {
  const message = (error as Error)?.message ?? String(error);
  if (/ACCESS[-_]REFUSED|NOT[-_]ALLOWED|PRECONDITION[-_]FAILED|NOT[-_]FOUND|RESOURCE[-_]LOCKED|\b40[3-6]\b|\b530\b/.test(message)) return 'refused';
  return 'connection';
}

/** An address fit for an error message: the password masked. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}
