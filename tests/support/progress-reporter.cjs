// A jest reporter, next to the default one (jest.config.js): progress lines for test files that run
// long. `npm test` runs in band (about 10 min on 2 cores) and the default reporter prints a file
// only when it ends, so the node-agent tests and the long integration files showed nothing for
// minutes. Once a file has run `afterSeconds`, each test case it finishes prints one line; a file
// silent for `heartbeatSeconds` past that prints one "still running" line. Short files print
// nothing. The lines start with "progress:" (CI's .ci/run reads jest's own `Tests:` summary line,
// which this never prints). Plain CommonJS: jest loads reporters without ts-jest.
// Jest's reporter interface: https://jestjs.io/docs/configuration#custom-reporters
'use strict';
const path = require('node:path');

class ProgressReporter {
  /**
   * @param {{ rootDir?: string }} globalConfig
   * @param {{ afterSeconds?: number, heartbeatSeconds?: number, now?: () => number, write?: (text: string) => void, timers?: boolean }} [options]
   */
  constructor(globalConfig, options = {}) {
    this.rootDir = (globalConfig && globalConfig.rootDir) || process.cwd();
    this.afterMs = (options.afterSeconds ?? 30) * 1000;
    this.heartbeatMs = (options.heartbeatSeconds ?? 60) * 1000;
    this.now = options.now ?? Date.now;
    this.write = options.write ?? ((text) => process.stderr.write(text));
    this.timers = options.timers ?? true;
    /** @type {Map<string, { start: number, last: number, done: number, failed: number }>} */
    this.files = new Map();
    /** @type {NodeJS.Timeout | undefined} */
    this.timer = undefined;
  }

  /** @param {{ path: string }} test */
  onTestFileStart(test) {
    const now = this.now();
    this.files.set(test.path, { start: now, last: now, done: 0, failed: 0 });
    if (this.timers && !this.timer) {
      this.timer = setInterval(() => this.heartbeat(), Math.min(this.heartbeatMs, 10_000));
      this.timer.unref();
    }
  }

  /**
   * @param {{ path: string }} test
   * @param {{ status: string, title: string, ancestorTitles?: string[], duration?: number | null }} result
   */
  onTestCaseResult(test, result) {
    const file = this.files.get(test.path);
    if (!file) return;
    file.done++;
    if (result.status === 'failed') file.failed++;
    const now = this.now();
    if (now - file.start < this.afterMs) return;
    file.last = now;
    const mark = result.status === 'passed' ? 'ok' : result.status === 'failed' ? 'FAILED' : result.status;
    const title = [...(result.ancestorTitles ?? []), result.title].join(' > ');
    const took = typeof result.duration === 'number' ? ` (${(result.duration / 1000).toFixed(1)} s)` : '';
    this.line(test.path, file, now, `${mark} ${title}${took}`);
  }

  /** @param {{ path: string }} test */
  onTestFileResult(test) {
    this.files.delete(test.path);
    if (this.files.size === 0) this.stop();
  }

  onRunComplete() {
    this.stop();
  }

  /** One "still running" line per long file silent for heartbeatSeconds. */
  heartbeat() {
    const now = this.now();
    for (const [filePath, file] of this.files) {
      if (now - file.start < this.afterMs || now - file.last < this.heartbeatMs) continue;
      file.last = now;
      this.line(filePath, file, now, 'still running');
    }
  }

  /**
   * @param {string} filePath
   * @param {{ start: number, done: number, failed: number }} file
   * @param {number} now
   * @param {string} what
   */
  line(filePath, file, now, what) {
    const name = path.relative(this.rootDir, filePath) || filePath;
    const counts = `${file.done} done${file.failed > 0 ? `, ${file.failed} failed` : ''}`;
    this.write(`progress: ${name} at ${Math.round((now - file.start) / 1000)} s, ${counts}: ${what}\n`);
  }

  stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  getLastError() {
    return undefined;
  }
}

module.exports = ProgressReporter;
