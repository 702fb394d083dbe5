// The chat page: log in with a name, join the room in the address (?room=lobby), see its
// history and whoever is in it, and talk. omnibus/client resumes the room after a dropped
// connection from the last message it saw, so nothing said meanwhile is missed.

import { createClient, type OmnibusClient } from '../../src/client/index.js';
import { presenceTopic, roomTopic, type ChatLine, type PresenceEvent } from './rooms.js';

const params = new URLSearchParams(location.search);
const room = params.get('room') ?? 'lobby';
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const members = new Map<string, string>(); // client id -> name

function line(text: string, from?: string): void {
  const item = document.createElement('li');
  if (from === undefined) item.className = 'notice';
  else item.append(Object.assign(document.createElement('span'), { className: 'from', textContent: from }));
  item.append(text);
  $('lines').append(item);
  item.scrollIntoView();
}

function showMembers(): void {
  $('members').replaceChildren(...[...new Set(members.values())].sort().map((name) => Object.assign(document.createElement('li'), { textContent: name })));
}

async function join(name: string): Promise<void> {
  const login = await fetch('/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }) });
  const { token, error } = await login.json();
  if (!login.ok) return line(`cannot join: ${error}`);
  const client: OmnibusClient = createClient({ url: `ws://${location.host}/v1/ws`, token });
  client.on('connectionLost', () => ($('status').textContent = 'reconnecting…'));
  client.on('reconnected', () => ($('status').textContent = 'connected'));
  await client.ready();
  $('status').textContent = 'connected';

  // Who is here now, then who comes and goes.
  await client.subscribe<PresenceEvent>(presenceTopic(room), ({ data }) => {
    if (data.type === 'presence.join') members.set(data.client, data.name);
    else members.delete(data.client);
    showMembers();
  });
  const present = await fetch(`/v1/presence?pattern=${roomTopic(room)}`, { headers: { authorization: `Bearer ${token}` } });
  for (const entry of (await present.json()).clients as Array<{ client: string; name: string }>) members.set(entry.client, entry.name);
  showMembers();

  // The room from its oldest kept line: the history, then what is said live.
  await client.subscribe<ChatLine>(roomTopic(room), ({ data }) => line(data.text, data.from), { from: 'earliest' });
  $('login').hidden = true;
  $('say').hidden = false;
  $('text').focus();
  $<HTMLFormElement>('say').addEventListener('submit', (event) => {
    event.preventDefault();
    const text = $<HTMLInputElement>('text').value;
    $<HTMLInputElement>('text').value = '';
    void client.publish(roomTopic(room), { from: name, text } satisfies ChatLine);
  });
}

$('room').textContent = `#${room}`;
$<HTMLFormElement>('login').addEventListener('submit', (event) => {
  event.preventDefault();
  void join($<HTMLInputElement>('name').value.trim());
});
const named = params.get('name');
if (named !== null) void join(named);
