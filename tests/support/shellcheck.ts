/**
 * shellcheck, which the tests of the node agent and of the launch template's user data need
 * (Debian/Ubuntu package `shellcheck`). As for the other tools the tests need (moto, the CNI
 * plugins, iproute2): when it is missing the test fails and says how to install it, never skips.
 */
import { spawnSync } from 'node:child_process';

export const SHELLCHECK_MISSING = 'shellcheck is needed to check the shell the nodes run, and is not on PATH: apt-get install -y shellcheck (or see https://github.com/koalaman/shellcheck#installing)';

/** The shellcheck to run; throws, naming the install command, when there is none on `path`. */
export function findShellcheck(path = process.env.PATH ?? ''): string {
  const found = spawnSync('sh', ['-c', 'command -v shellcheck'], { encoding: 'utf8', env: { PATH: path } });
  const command = found.status === 0 ? found.stdout.trim() : '';
  if (!command) throw new Error(SHELLCHECK_MISSING);
  return command;
}
