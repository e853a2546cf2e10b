// Keeps the emulator for the next run inside a Stryker test runner (see global-setup.ts); a plain
// `jest -c tests/mutation/jest.config.js` run stops it, as the integration project's teardown does.
export default async function globalTeardown(): Promise<void> {
  const emulator = globalThis.__MUTATION_EMULATOR__;
  if (!emulator || process.env.STRYKER_MUTATOR_WORKER) return;
  globalThis.__MUTATION_EMULATOR__ = undefined;
  await emulator.proxy.stop();
  await emulator.moto.stop();
}
