// A fixed-tick game loop on the bus: each tick writes level-ups without awaiting
// (`bus.writer`) and reads what arrived since the last frame (`bus.reader`). Local-first: the
// game's own topics are delivered in process, so its reader has each write in the same tick,
// and mirrored to a SQLite file, so a second process on the machine (here: `watch`) gets every
// event too. Swap the mirror for NATS or Kafka to reach other machines.
//   npx tsx examples/game-loop.ts watch    # terminal 1: prints what the game publishes
//   npx tsx examples/game-loop.ts          # terminal 2: runs 20 ticks of 50 ms
// Both use ./game-loop.db; GAME_DB=path picks another file.
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { createBus, defineEvent } from '../src/index.js';
import { memory } from '../src/drivers/memory/index.js';
import { sqlite } from '../src/drivers/sqlite/index.js';

const levelUp = z.object({ tick: z.number().int(), player: z.string(), level: z.number().int().positive() });
const LevelUp = defineEvent('game.player.level-up', levelUp);
const SessionEnded = defineEvent('game.session.ended', z.object({ levelUps: z.number().int() }));
const shared = sqlite({ path: process.env.GAME_DB ?? 'game-loop.db' });
const watching = process.argv[2] === 'watch';
const bus = watching
  ? createBus({ driver: shared })
  : createBus({ drivers: { local: memory(), shared }, routes: [{ topics: ['game.>'], driver: 'local', mirror: ['shared'] }] });

// A write the driver later refuses (full disk, a broker gone) cannot throw into the loop; it arrives here.
bus.on('deliveryFailed', (failure) => console.log(`failed: ${failure.topic} ${failure.id} on ${failure.driver}: ${String(failure.error)}`));

const show = (event: z.infer<typeof levelUp>) => `tick=${event.tick} ${event.player} level ${event.level}`;

if (watching) {
  // Durable, so this process may start before or after the game: it reads from the file's start.
  const seen: string[] = [];
  let expected = Infinity;
  let finished!: () => void;
  const done = new Promise<void>((resolve) => (finished = resolve));
  const check = () => seen.length >= expected && finished();
  await bus.subscribe(LevelUp, (msg) => {
    seen.push(show(msg.data));
    console.log(`watcher: ${show(msg.data)}`);
    check();
  }, { from: 'earliest' });
  await bus.subscribe(SessionEnded, (msg) => {
    expected = msg.data.levelUps;
    check();
  }, { from: 'earliest' });
  console.log('watching');
  await done;
  console.log(`watcher: got all ${seen.length} level-ups`);
} else {
  const TICKS = 20;
  const TICK_MS = 50;
  const players = ['ada', 'bo', 'cy'];
  const levels = new Map<string, number>();
  const writer = bus.writer(LevelUp);
  const reader = bus.reader(LevelUp);
  reader.read(); // subscribes; nothing has arrived yet
  await reader.ready(); // so the first tick's write is seen too
  let read = 0;
  const frame = () => {
    for (const msg of reader.read()) {
      read++;
      console.log(`read ${show(msg.data)}`);
    }
  };

  for (let tick = 1; tick <= TICKS; tick++) {
    const player = players[tick % players.length];
    const level = (levels.get(player) ?? 1) + 1;
    levels.set(player, level);
    const result = writer.write({ tick, player, level });
    if (result.ok) console.log(`wrote ${show({ tick, player, level })}`);
    else console.log(`refused: ${result.error.message}`);
    frame();
    await sleep(TICK_MS);
  }
  console.log(`loop: read ${read} of ${TICKS} level-ups`);
  await bus.publish(SessionEnded, { levelUps: TICKS });
  await reader.close();
}
await bus.close();
