// An example run as a user runs it (`npx tsx examples/...`), in a directory of its own, with
// its output lines to wait on: example tests wait on what a program says, never on time.

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface ExampleProcess {
  child: ChildProcess;
  /** Every stdout line so far. */
  lines: string[];
  /** Resolves with the first line matching `pattern`, printed before or after the call; rejects if the process exits first. */
  line(pattern: RegExp): Promise<RegExpExecArray>;
  /** Resolves with the exit code once all output is read. */
  exited: Promise<number | null>;
}

export function runExample(file: string, options: { cwd: string; env?: Record<string, string>; args?: string[] }): ExampleProcess {
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(process.cwd(), file), ...(options.args ?? [])], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // 'close' follows the last output line, unlike 'exit'.
  const exited = once(child, 'close').then(([code]) => code as number | null);
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line);
    for (const waiter of waiters.splice(0)) waiter();
  });
  const line = (pattern: RegExp) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const check = () => {
        const match = lines.map((seen) => pattern.exec(seen)).find((found) => found !== null);
        if (match) resolve(match);
        else waiters.push(check);
      };
      check();
      exited.then((code) => reject(new Error(`${file} exited (${code}) before printing ${pattern}:\n${lines.join('\n')}`)));
    });
  return { child, lines, line, exited };
}
