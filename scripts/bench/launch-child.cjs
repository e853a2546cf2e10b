// A Lambda container stand-in for the scaling benchmarks: a fresh Node process loads the built
// lifecycle handler (BENCH_HANDLER, its layer on NODE_PATH as Lambda resolves /opt/nodejs), says
// how long that took, then handles the launch events the parent writes on stdin (one JSON line
// each: { id, event, resetPeak }) one after the other, answering one JSON line each on stdout:
// the handler's wall and CPU time (process.cpuUsage around the invocation: user + system, garbage
// collection included) and the process's peak RSS (VmHWM; `resetPeak` first resets it to the
// current RSS, so that it is the peak of that invocation).
const fs = require('node:fs');
const readline = require('node:readline');

function statusKb(key) {
  const match = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return match ? Number(match[1]) : undefined;
}
function cpuMs() {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

const loadWall = process.hrtime.bigint();
const loadCpu = cpuMs();
const { handler } = require(process.env.BENCH_HANDLER);
process.stdout.write(
  JSON.stringify({ ready: true, loadMs: Number(process.hrtime.bigint() - loadWall) / 1e6, loadCpuMs: cpuMs() - loadCpu, peakKb: statusKb('VmHWM') }) + '\n',
);

let queue = Promise.resolve();
const input = readline.createInterface({ input: process.stdin });
// The parent closes stdin when it is done: exit (the SDK's keep-alive sockets would keep the process up).
input.on('close', () => queue.then(() => process.exit(0)));
input.on('line', (line) => {
  queue = queue.then(async () => {
    const { id, event, resetPeak } = JSON.parse(line);
    if (resetPeak) {
      try {
        fs.writeFileSync('/proc/self/clear_refs', '5');
      } catch {
        // an older kernel: the peak is the process's since it started
      }
    }
    const wall = process.hrtime.bigint();
    const cpu = cpuMs();
    let result;
    try {
      result = await handler(event);
    } catch (err) {
      result = { outcome: 'threw', reason: String(err), interfaces: [] };
    }
    process.stdout.write(
      JSON.stringify({
        id,
        wallMs: Number(process.hrtime.bigint() - wall) / 1e6,
        cpuMs: cpuMs() - cpu,
        peakKb: statusKb('VmHWM'),
        outcome: result.outcome,
        reason: result.reason,
        addresses: (result.interfaces ?? []).map((i) => i.privateIpAddress),
      }) + '\n',
    );
  });
});
