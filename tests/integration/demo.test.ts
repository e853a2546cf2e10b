/**
 * The README's quick start: `npm run demo` prints each node's multus interfaces and shows the next
 * node following an SSM overwrite, ends with one line summing up the metrics the handler emitted,
 * then exits 0. It starts and stops its own emulator.
 */
import { join } from 'node:path';
import { run } from '../support/run';

const ROOT = join(__dirname, '..', '..');

test('npm run demo prints the table, follows the SSM change and exits 0', async () => {
  const out = await run(join(ROOT, 'node_modules', '.bin', 'tsx'), [join(ROOT, 'scripts', 'demo.ts')], { cwd: ROOT, timeoutMs: 120_000 });

  expect(out.stderr).not.toContain('demo failed');
  expect(out.status).toBe(0);
  const rows = out.stdout.split('\n').filter((l) => /^i-[0-9a-f]+\s/.test(l));
  const attached = rows.filter((l) => l.includes('CONTINUE (attached)'));
  expect(attached).toHaveLength(4 * 2 + 3 + 2); // 4 nodes x 2 subnets, the follow-up node x 3, the node with prefixes x 2
  expect(rows.filter((l) => l.includes('skipped: instance does not carry the opt-in tag multus-ng'))).toHaveLength(1);
  expect(out.stdout).toMatch(/^\s*i-\S+\s+us-east-1a\s+1\s+subnet-\S+\s+eni-\S+\s+10\.0\.1\.4\s+-\s+CONTINUE \(attached\)$/m);
  const followUp = out.stdout.slice(out.stdout.indexOf('follows the new list'));
  expect(followUp).toMatch(/\s3\s+subnet-\S+\s+eni-\S+\s+10\.0\.100\.4\s/);
  // us-east-1b's first multus subnet is 10.0.4.0/24: two nodes took .4 and .5; the next takes .6 and the two lowest free /28s.
  const withPrefixes = out.stdout.slice(out.stdout.indexOf('two /28 prefixes per multus ENI'));
  expect(withPrefixes).toMatch(/\s1\s+subnet-\S+\s+eni-\S+\s+10\.0\.4\.6\s+10\.0\.4\.16\/28,10\.0\.4\.32\/28\s+CONTINUE \(attached\)/);
  // The node without a hook: its two ENIs (with the prefixes the setting still asks for), no lifecycle action.
  const hookless = out.stdout.slice(out.stdout.indexOf('A node without a lifecycle hook'));
  expect(hookless.split('\n').filter((l) => l.includes('no hook (attached)'))).toHaveLength(2);
  expect(out.stdout).toContain('Lifecycle actions completed: 7');
  // The last line: the metrics of those 8 launches (7 through the hook, 1 without), read from the EMF the handler wrote (none of it left in the output).
  const last = out.stdout.trim().split('\n').pop()!;
  expect(last).toMatch(/^Metrics emitted \(\d+ EMF documents, namespace EksMultusEni\): ColdStart 1; Launches 8 \(attached 7, skipped 1\); LaunchDuration p50 \d+ ms, max \d+ ms \(8 values\); InterfacesCreated 15; InterfacesAdopted 0; AddressRacesLost 0; HeartbeatsSent 0$/);
  expect(out.stdout).not.toContain('"_aws"');
});

test('npm run demo -- --ipv6 shows a dual-stack and an IPv6-only ENI, then /80 prefixes, then a refused setting, and exits 0', async () => {
  const out = await run(join(ROOT, 'node_modules', '.bin', 'tsx'), [join(ROOT, 'scripts', 'demo.ts'), '--ipv6'], { cwd: ROOT, timeoutMs: 120_000 });

  expect(out.stderr).not.toContain('demo failed');
  expect(out.status).toBe(0);
  const sixtyFour = '[0-9a-f:]+';
  // First node: the lowest IPv4 address and one IPv6 address in the dual-stack subnet; no IPv4 in the IPv6-only one.
  expect(out.stdout).toMatch(new RegExp(`^i-\\S+\\s+us-east-1a\\s+1\\s+subnet-\\S+\\s+eni-\\S+\\s+10\\.0\\.1\\.4\\s+${sixtyFour}::4\\s+-\\s+CONTINUE \\(attached\\)$`, 'm'));
  expect(out.stdout).toMatch(new RegExp(`^i-\\S+\\s+us-east-1a\\s+2\\s+subnet-\\S+\\s+eni-\\S+\\s+none \\(IPv6-only\\)\\s+${sixtyFour}::4\\s+-\\s+CONTINUE \\(attached\\)$`, 'm'));
  // After the put-parameter: two /80s per ENI.
  const prefixed = out.stdout.slice(out.stdout.indexOf('two /80 prefixes per ENI'));
  expect(prefixed.split('\n').filter((l) => new RegExp(`${sixtyFour}:1::/80,${sixtyFour}:2::/80\\s+CONTINUE \\(attached\\)$`).test(l))).toHaveLength(2);
  // IPv4 prefixes asked of the IPv6-only subnet: refused before anything is created.
  expect(out.stdout).toMatch(/ABANDON \(failed\): NodeConfigurationError: \/eks-multus-eni\/demo\/ipv4-prefixes-per-interface: is 1, but subnet subnet-\S+ \(\/eks-multus-eni\/demo\/subnets\/us-east-1a\) is IPv6-only/);
  expect(out.stdout).toContain('Lifecycle actions completed: 3 (CONTINUE, CONTINUE, ABANDON)');
  const last = out.stdout.trim().split('\n').pop()!;
  expect(last).toMatch(/^Metrics emitted \(\d+ EMF documents, namespace EksMultusEni\): ColdStart 1; Launches 3 \(attached 2, failed 1\); .*InterfacesCreated 4; .*SettingsErrors 1$/);
  expect(out.stdout).not.toContain('"level"');
});

test('npm run demo with an unknown argument: a usage line, exit 2', async () => {
  const out = await run(join(ROOT, 'node_modules', '.bin', 'tsx'), [join(ROOT, 'scripts', 'demo.ts'), '--ipv7'], { cwd: ROOT, timeoutMs: 60_000 });
  expect(out.status).toBe(2);
  expect(out.stderr).toContain('usage: npm run demo [-- --ipv6]');
});
