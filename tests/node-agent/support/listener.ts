// Starts one of the fake servers (fake-imds.cjs, fake-kube-api.cjs) inside a network namespace: each
// prints "listening <port>" once it accepts connections on the namespace's loopback.
import { type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { type Netns } from './netns';

export interface Listener {
  port: number;
  stop(): Promise<void>;
}

/** Writes a fake's state file atomically (the fakes re-read it on every request). */
export function writeState(file: string, state: object): void {
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(state, null, 2));
  fs.renameSync(tmp, file); // the server never reads a half-written file
}

export async function startListener(ns: Netns, script: string, args: string[], what: string): Promise<Listener> {
  const child: ChildProcess = ns.spawn('node', [script, ...args], { PATH: process.env.PATH });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start within 10 s: ${stderr}`)), 10000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /^listening (\d+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}) before listening: ${stderr}`));
    });
  });
  return {
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
