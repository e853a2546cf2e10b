// Starts fake-imds.cjs inside a network namespace and describes the instance it serves.
import { type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Netns } from './netns';

export interface FakeEni {
  mac: string;
  deviceNumber: number;
  /** absent: the path answers 404, as on instance types with one network card */
  networkCard?: number;
  subnet: string;
  /** delegated IPv4 prefixes; absent or empty: `ipv4-prefix` answers 404 */
  prefixes?: string[];
}

export interface ImdsState {
  interfaces: FakeEni[];
  /** forced HTTP status per path under `meta-data/` */
  fail?: Record<string, number>;
}

export interface FakeImds {
  endpoint: string;
  stop(): Promise<void>;
}

const SCRIPT = path.join(__dirname, 'fake-imds.cjs');

/** Writes the state the server reads on every request. */
export function writeImdsState(file: string, state: ImdsState): void {
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(state, null, 2));
  fs.renameSync(tmp, file); // the server never reads a half-written file
}

export async function startFakeImds(ns: Netns, stateFile: string): Promise<FakeImds> {
  const child: ChildProcess = ns.spawn('node', [SCRIPT, stateFile], { PATH: process.env.PATH });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`fake IMDS did not start within 10 s: ${stderr}`)), 10000);
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
      reject(new Error(`fake IMDS exited (${code}) before listening: ${stderr}`));
    });
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
