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
