/** What an integration test needs of the emulator started by the global set-up. */
import { FidelityControl } from './fidelity-proxy';
import { resetMoto } from './moto';

export function emulatorEndpoint(): string {
  const endpoint = process.env.AWS_ENDPOINT_URL;
  if (!endpoint || !/^http:\/\/127\.0\.0\.1:\d+$/.test(endpoint)) {
    throw new Error(`AWS_ENDPOINT_URL is ${endpoint ?? 'unset'}: integration tests only talk to the local emulator`);
  }
  return endpoint;
}

export const control = (): FidelityControl => new FidelityControl(emulatorEndpoint());

/** A clean emulator for the next test. */
export async function resetEmulator(): Promise<void> {
  await resetMoto(process.env.MOTO_ENDPOINT ?? '');
  await control().reset();
}
