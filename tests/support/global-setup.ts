// Starts one emulator (moto + fidelity proxy) for the integration tests and points the AWS SDK at
// it. Tests run in band (npm test), so no two tests reset the same moto at once.
import { startEmulator, useEmulator, type Emulator } from './emulator';

declare global {
  // eslint-disable-next-line no-var
  var __EMULATOR__: Emulator | undefined;
}

export default async function globalSetup(): Promise<void> {
  const emulator = await startEmulator();
  globalThis.__EMULATOR__ = emulator;
  useEmulator(emulator.endpoint);
  process.env.MOTO_ENDPOINT = emulator.motoEndpoint;
}
