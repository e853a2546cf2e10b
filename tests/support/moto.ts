/**
 * Starting and stopping the local AWS emulator (moto server) on a free loopback port.
 * moto_server is found by the glob ${PYENV_ROOT:-$HOME/.pyenv}/versions/<v>/bin/moto_server first,
 * then on PATH; the first that runs is used. None: a loud error, never a silent skip.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

export class EmulatorMissingError extends Error {
  override readonly name = 'EmulatorMissingError';
}

function pyenvBins(tool: string): string[] {
  const root = process.env.PYENV_ROOT || join(homedir(), '.pyenv');
  const versions = join(root, 'versions');
  if (!existsSync(versions)) return [];
  return readdirSync(versions)
    .sort()
    .map((v) => join(versions, v, 'bin', tool))
    .filter((p) => existsSync(p));
}

function pathBins(tool: string): string[] {
  return (process.env.PATH ?? '')
    .split(delimiter)
    .filter(Boolean)
    .map((dir) => join(dir, tool))
    .filter((p) => existsSync(p));
}

/** The first candidate for `tool` (pyenv glob, then PATH) that runs with `probeArgs`. */
export function findTool(tool: string, probeArgs: string[] = ['--help']): string {
  const candidates = [...pyenvBins(tool), ...pathBins(tool)];
  for (const candidate of candidates) {
    const probe = spawnSync(candidate, probeArgs, { stdio: 'ignore', timeout: 60_000 });
    if (probe.status === 0) return candidate;
  }
  throw new EmulatorMissingError(
    `${tool} not found: looked in ${process.env.PYENV_ROOT || '~/.pyenv'}/versions/*/bin/${tool} and on PATH ` +
      `(tried ${candidates.length ? candidates.join(', ') : 'nothing'}). Install it with: pip install 'moto[server]' cfn-lint awscli`,
  );
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface Moto {
  readonly endpoint: string;
  readonly port: number;
  stop(): Promise<void>;
}

async function waitUntilUp(endpoint: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto_server exited with ${child.exitCode}: ${output()}`);
    try {
      const res = await fetch(`${endpoint}/moto-api/`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`moto_server did not answer on ${endpoint} within 60 s: ${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts moto_server on a free loopback port and waits until it answers. */
export async function startMoto(): Promise<Moto> {
  const bin = findTool('moto_server');
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const child = spawn(bin, ['-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    const keep = (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-4000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const endpoint = `http://127.0.0.1:${port}`;
    try {
      await waitUntilUp(endpoint, child, () => log);
    } catch (err) {
      child.kill('SIGKILL');
      if (attempt < 3) continue; // the port may have been taken between probe and bind
      throw err;
    }
    return {
      endpoint,
      port,
      stop: () =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
          setTimeout(() => child.kill('SIGKILL'), 3000).unref();
        }),
    };
  }
}

/** Clears every resource in moto. */
export async function resetMoto(endpoint: string): Promise<void> {
  const res = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
  if (!res.ok) throw new Error(`moto reset failed: ${res.status}`);
}
