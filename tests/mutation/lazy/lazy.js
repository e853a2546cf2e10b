// The AWS SDK clients of `npm run mutate`, loaded on first use (see the moduleNameMapper of
// tests/mutation/jest.config.js). Jest gives every test file its own module registry, so each file
// that imports the layer loads @aws-sdk/client-ec2 and the other clients again, about 140 ms a
// file, though most unit tests use fakes and never touch the SDK; a mutant's run loads two to seven
// files. This stand-in loads the real package (by path, so that the mapper does not send it back
// here) only when an export is first read: by a test that mocks or builds a client.
const path = require('node:path');

const root = path.join(__dirname, '..', '..', '..');

module.exports = function lazyPackage(name) {
  let real;
  const load = () => (real ??= require(path.join(root, 'node_modules', name)));
  return new Proxy(
    {},
    {
      get: (_target, key) => load()[key],
      has: (_target, key) => key in load(),
      ownKeys: () => Reflect.ownKeys(load()),
      getOwnPropertyDescriptor: (_target, key) => {
        const descriptor = Object.getOwnPropertyDescriptor(load(), key);
        // A proxy may not report a property as non-configurable that its target lacks.
        return descriptor && { ...descriptor, configurable: true };
      },
    },
  );
};
