// Starts an example's services as child processes with one command, and stops them together:
// Ctrl-C or SIGTERM stops all, and one dying stops the others with exit code 1.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const tsx = import.meta.resolve('tsx'); // so the services start from any working directory
const children: ChildProcess[] = [];
let stopping = false;

function stop(exitCode = 0): void {
  stopping = true;
  process.exitCode = exitCode;
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
}
process.on('SIGINT', () => stop()).on('SIGTERM', () => stop());

/**
 * Runs `file` (relative to `base`, the caller's `import.meta.url`), echoing its output lines;
 * resolves with the first match of `ready` in them (with no `ready`, at once).
 */
export function launch(base: string, file: string, env: Record<string, string> = {}, ready?: RegExp): Promise<RegExpExecArray | undefined> {
  const child = spawn(process.execPath, ['--import', tsx, fileURLToPath(new URL(file, base))], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  child.once('exit', (code, signal) => {
    if (stopping) return;
    console.error(`${file} exited (${signal ?? code}); stopping the others`);
    stop(1);
  });
  return new Promise((resolve) => {
    if (ready === undefined) resolve(undefined);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      console.log(line);
      const match = ready?.exec(line);
      if (match) resolve(match);
    });
  });
}
