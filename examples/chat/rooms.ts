// What the server, the page and the bot agree on: room topics, presence topics, names, and the
// shape of a chat line.

/** A user's (and a room's) name: what login accepts and a topic token can hold. */
export const NAME = /^[A-Za-z0-9_-]{1,24}$/;

/** Messages a room shows when someone joins. */
export const ROOM_HISTORY = 50;

export const roomTopic = (room: string): string => `chat.${room}`;

/** Where the gateway announces who joins and leaves `chat.<room>` (GET /v1/presence lists them now). */
export const presenceTopic = (room: string): string => `_presence.chat.${room}`;

export interface ChatLine {
  from: string;
  text: string;
}

/** What the gateway publishes on a presence topic. */
export type { PresenceEvent } from '../../src/gateway/index.js';
