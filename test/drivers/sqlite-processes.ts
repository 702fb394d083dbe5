// Starting and reading sqlite-worker.ts child processes for the multi-process tests.

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const worker = fileURLToPath(new URL('./sqlite-worker.ts', import.meta.url));

export interface Worker {
  child: ChildProcess;
  lines: string[];
  /** Resolves once the worker printed `ready` (rejects if it exits first). */
  ready: Promise<void>;
  exited: Promise<number | null>;
  kill(): Promise<void>;
}

export function startWorker(...args: string[]): Worker {
  const child = spawn(process.execPath, ['--import', 'tsx', worker, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let rest = '';
  let stderr = '';
  let markReady: () => void;
  let failReady: (error: Error) => void;
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    failReady = reject;
  });
  ready.catch(() => {});
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      if (line === 'ready') markReady();
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      failReady(new Error(`worker ${args.join(' ')} exited with ${code} before it was ready: ${stderr}`));
      resolve(code);
    }),
  );
  return {
    child,
    lines,
    ready,
    exited,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
