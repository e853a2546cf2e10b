// Preloaded into Stryker's TypeScript checker process (stryker.config.mjs, checkerNodeArgs). The
// checker runs TypeScript's watch builder, which waits 250 ms after each file change before it
// re-checks; the checker changes a file for every mutant group, so the waits alone would be most
// of a cold run. Here they are not waited.
const ts = require('typescript');

const setTimeoutNow = ts.sys.setTimeout;
ts.sys.setTimeout = (callback, _ms, ...args) => setTimeoutNow(callback, 0, ...args);
