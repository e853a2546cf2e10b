/**
 * `npm run node-user-data`'s command line (scripts/node-user-data.ts): --help with the defaults,
 * and a one-line error with exit 2 for whatever cannot be used. The defaults and bounds are the
 * launch template's own parameters. The script is run as a user runs it (tsx, a child process);
 * it makes no AWS call. What it prints on success is checked in nested-templates.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { OPTIONS, parseArgs, usage } from '../../scripts/node-user-data';

const ROOT = join(__dirname, '..', '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const cli = (...args: string[]) => spawnSync(TSX, [join(ROOT, 'scripts', 'node-user-data.ts'), ...args], { cwd: ROOT, encoding: 'utf8' });

test('--help: usage on stdout with every option, what it takes and its default; exit 0', () => {
  const out = cli('--help');
  expect({ status: out.status, stderr: out.stderr }).toEqual({ status: 0, stderr: '' });
  expect(out.stdout).toBe(usage());
  expect(out.stdout).toMatch(/^usage: npm run -s node-user-data -- \[--interfaces N\] \[--wait-seconds S\] \[--cni-conf-dir DIR\] \[--pod-routes R\]/);
  expect(out.stdout).toMatch(/--pod-routes R .*default vpc\)/);
  expect(out.stdout).toMatch(/--interfaces N .*\(a whole number from 1 to 15; default 2\)/);
  expect(out.stdout).toMatch(/--wait-seconds S .*\(a whole number from 10 to 3600; default 300\)/);
  expect(out.stdout).toMatch(/--cni-conf-dir DIR .*default \/etc\/cni\/multus\/net\.d\)/);
  expect(cli('-h').stdout).toBe(out.stdout);
});

test.each([
  [['--interfaces', '0'], '--interfaces must be a whole number from 1 to 15, not "0" (with 0 the agent has nothing to wait for)'],
  [['--interfaces', 'abc'], '--interfaces must be a whole number from 1 to 15, not "abc"'],
  [['--interfaces', '16'], '--interfaces must be a whole number from 1 to 15, not "16"'],
  [['--interfaces'], '--interfaces needs a value (N)'],
  [['--interfaces', '--wait-seconds', '60'], '--interfaces needs a value (N)'],
  [['--wait-seconds', '5'], '--wait-seconds must be a whole number from 10 to 3600, not "5"'],
  [['--wait-seconds', '1.5'], '--wait-seconds must be a whole number from 10 to 3600, not "1.5"'],
  [['--wait-seconds='], '--wait-seconds must be a whole number from 10 to 3600, not ""'],
  [['--cni-conf-dir', 'relative/dir'], '--cni-conf-dir must be an absolute path of letters, digits and _ . / -, not "relative/dir"'],
  [['--interface', '2'], 'unknown option --interface (options: --interfaces, --wait-seconds, --cni-conf-dir, --pod-routes, --help)'],
  [['2'], 'unknown argument 2 (options: --interfaces, --wait-seconds, --cni-conf-dir, --pod-routes, --help)'],
  [['--interfaces', '2', '--interfaces', '3'], '--interfaces is given twice'],
  [['--pod-routes', '0.0.0.0/0'], '--pod-routes must be vpc, none, or IPv4 and IPv6 CIDRs (prefix length 1 to 32, 1 to 128), comma separated, not "0.0.0.0/0"'],
  [['--pod-routes', 'vpc,10.0.0.0/0'], '--pod-routes must be vpc, none, or IPv4 and IPv6 CIDRs (prefix length 1 to 32, 1 to 128), comma separated, not "vpc,10.0.0.0/0"'],
  [['--pod-routes', '::/0'], '--pod-routes must be vpc, none, or IPv4 and IPv6 CIDRs (prefix length 1 to 32, 1 to 128), comma separated, not "::/0"'],
  [['--pod-routes', 'vpc,2600:1f18::/129'], '--pod-routes must be vpc, none, or IPv4 and IPv6 CIDRs (prefix length 1 to 32, 1 to 128), comma separated, not "vpc,2600:1f18::/129"'],
  [['--pod-routes', 'vpc, 10.0.0.0/8'], '--pod-routes must be vpc, none, or IPv4 and IPv6 CIDRs (prefix length 1 to 32, 1 to 128), comma separated, not "vpc, 10.0.0.0/8"'],
])('%j: one line on stderr, nothing on stdout, exit 2', (args, message) => {
  const out = cli(...args);
  expect({ status: out.status, stdout: out.stdout, stderr: out.stderr }).toEqual({ status: 2, stdout: '', stderr: `node-user-data: ${message}\n` });
});

test('the options read: defaults from the launch template, given values, --flag=value', () => {
  expect(parseArgs([])).toEqual({ interfaces: 2, waitSeconds: 300, cniConfDir: '/etc/cni/multus/net.d', podRoutes: 'vpc' });
  expect(parseArgs(['--interfaces', '3', '--wait-seconds=120', '--cni-conf-dir', '/etc/cni/custom.d', '--pod-routes', 'vpc,192.168.0.0/16'])).toEqual({ interfaces: 3, waitSeconds: 120, cniConfDir: '/etc/cni/custom.d', podRoutes: 'vpc,192.168.0.0/16' });
  expect(parseArgs(['--pod-routes', 'vpc,2001:db8::/48'])).toMatchObject({ podRoutes: 'vpc,2001:db8::/48' });
  expect(parseArgs(['--interfaces', '1', '--help'])).toBe('help');
});

test('every option of the table fills a parameter of the launch template, and every key once', () => {
  expect(OPTIONS.map((o) => o.parameter)).toEqual(['MultusInterfaceCount', 'WaitTimeoutSeconds', 'MultusCniConfDir', 'MultusPodRoutes']);
  expect(new Set(OPTIONS.map((o) => o.key)).size).toBe(OPTIONS.length);
});
