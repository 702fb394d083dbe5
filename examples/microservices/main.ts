// Two services in two processes, started with one command: the users service (Express and the
// gateway, examples/microservices/users-service.ts) and the directory service that consumes its
// `user.created` events through the gateway client (directory-service.ts). Ctrl-C stops both.
//   npx tsx examples/microservices/main.ts   (PORT, default 3000; files go to the working directory)
//   curl -X POST http://127.0.0.1:3000/users -H 'content-type: application/json' -d '{"name":"Ada","email":"ada@example.com"}'
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const tsx = import.meta.resolve('tsx'); // so the services start from any working directory
const children: ChildProcess[] = [];
let stopping = false;

function start(file: string, env: Record<string, string> = {}): ChildProcess {
  const child = spawn(process.execPath, ['--import', tsx, fileURLToPath(new URL(file, import.meta.url))], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  child.once('exit', (code, signal) => {
    if (stopping) return;
    console.error(`${file} exited (${signal ?? code}); stopping the other service`);
    stop(1);
  });
  return child;
}

function stop(exitCode = 0): void {
  stopping = true;
  process.exitCode = exitCode;
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
}
process.on('SIGINT', () => stop()).on('SIGTERM', () => stop());

const users = start('users-service.ts');
const gateway = await new Promise<string>((resolve) => {
  createInterface({ input: users.stdout! }).on('line', (line) => {
    console.log(line);
    const listening = /^users: listening on http(:\/\/\S+)$/.exec(line);
    if (listening) resolve(`ws${listening[1]}/v1/ws`);
  });
});
start('directory-service.ts', { GATEWAY_URL: gateway }).stdout!.pipe(process.stdout, { end: false });
