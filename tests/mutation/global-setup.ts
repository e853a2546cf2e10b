// Global set-up of `npm run mutate`: one emulator (moto + the fidelity proxy) per Stryker test
// runner process, started by the first jest run and reused by every later one. Stryker runs jest
// once per mutant in the same process, and jest runs the global set-up each time: the integration
// project's own set-up would start and stop moto (about 0.5 s) for every mutant. The worker's exit
// stops moto; when Stryker kills a worker, it kills the worker's process tree, moto with it.
import { FidelityControl, startFidelityProxy, type FidelityProxy } from '../support/fidelity-proxy';
import { useEmulator } from '../support/emulator';
import { startMoto, type Moto } from '../support/moto';

declare global {
  // eslint-disable-next-line no-var
  var __MUTATION_EMULATOR__: { moto: Moto; proxy: FidelityProxy } | undefined;
}

export default async function globalSetup(): Promise<void> {
  let emulator = globalThis.__MUTATION_EMULATOR__;
  if (!emulator) {
    const moto = await startMoto();
    const proxy = await startFidelityProxy(moto.endpoint);
    emulator = { moto, proxy };
    globalThis.__MUTATION_EMULATOR__ = emulator;
    // moto.stop() signals the child synchronously, as an exit handler must.
    process.once('exit', () => void moto.stop());
  }
  useEmulator(emulator.proxy.endpoint);
  process.env.MOTO_ENDPOINT = emulator.moto.endpoint;
  await new FidelityControl(emulator.proxy.endpoint).reset();
}
