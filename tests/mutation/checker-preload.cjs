// Preloaded into Stryker's TypeScript checker process (stryker.config.mjs, checkerNodeArgs). The
// checker keeps one TypeScript watch build and changes a file for every mutant group; two things
// made each check far slower than the check itself:
//
// 1. The watch builder waits 250 ms after each file change before it re-checks. Here it does not.
// 2. Each rebuild makes a new program whose compiler host read and parsed every file again, the
//    declaration files of the libraries and of Node included, only for TypeScript to find each one
//    unchanged and keep its old copy: parsing, binding and the garbage they left were about two
//    thirds of the checker's CPU time (a profile of a run), and the test runner sat waiting for
//    checked mutants. checker-hooks.mjs gives the checker a TypeScript whose host keeps what it
//    parsed (checker-typescript.mjs), as TypeScript's own language service does; a mutated file has
//    new text and is parsed anew. The same mutants are compile errors with and without it.
const { register } = require('node:module');
const { pathToFileURL } = require('node:url');
const ts = require('typescript');

const setTimeoutNow = ts.sys.setTimeout;
ts.sys.setTimeout = (callback, _ms, ...args) => setTimeoutNow(callback, 0, ...args);

register(pathToFileURL(require.resolve('./checker-hooks.mjs')));
