// Runs a built Lambda handler the way the Node.js runtime does: `require` the bundle from its
// folder with the layers on NODE_PATH, call the export with the event, print the result as JSON.
// Usage: node run-built-handler.cjs <function dir> <file.export> <event.json>
const { readFileSync } = require('node:fs');
const { join } = require('node:path');

async function main() {
  const [dir, handler, eventPath] = process.argv.slice(2);
  const [file, name] = handler.split('.');
  const started = process.hrtime.bigint();
  const mod = require(join(dir, `${file}.js`));
  const loadMs = Number(process.hrtime.bigint() - started) / 1e6;
  const event = JSON.parse(readFileSync(eventPath, 'utf8'));
  const result = await mod[name](event, { awsRequestId: 'local', functionName: 'local', getRemainingTimeInMillis: () => 60000 });
  process.stdout.write(`${JSON.stringify({ result, loadMs, resolved: require.resolve("multus-core") })}\n`, () => process.exit(0));
}

main().catch((err) => {
  process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
