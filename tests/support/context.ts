/** What an integration test needs of the emulator started by the global set-up. */
import { clearCaches } from '../../functions/lifecycle/handler';
import { FidelityControl } from './fidelity-proxy';
import { createVpc, worldClients, type VpcLayout, type WorldClients } from './world';
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

/** Registers a beforeEach: a clean emulator, and none of the lifecycle handler's caches. */
export function cleanEmulatorEachTest(): void {
  beforeEach(async () => {
    await resetEmulator();
    clearCaches();
  });
}

/**
 * cleanEmulatorEachTest, plus a fresh VPC (10.0.0.0/16; per AZ a node subnet and `multusPerAz`
 * multus /24s) before each test; `world.layout` is the current test's.
 */
export function freshVpcEachTest(azs: string[], multusPerAz = 2): { readonly clients: WorldClients; layout: VpcLayout } {
  const world = { clients: worldClients(), layout: undefined as unknown as VpcLayout };
  cleanEmulatorEachTest();
  beforeEach(async () => {
    world.layout = await createVpc(world.clients, azs, multusPerAz);
  });
  return world;
}
