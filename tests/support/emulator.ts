/**
 * The local AWS of tests, the demo and the benchmarks: moto server plus the fidelity proxy in
 * front of it, reached through the standard AWS SDK environment (AWS_ENDPOINT_URL...).
 */
import { FidelityControl, startFidelityProxy } from './fidelity-proxy';
import { resetMoto, startMoto } from './moto';

export interface Emulator {
  /** The proxy: what AWS_ENDPOINT_URL points to. */
  readonly endpoint: string;
  readonly motoEndpoint: string;
  readonly control: FidelityControl;
  /** A clean state: moto reset and the proxy's records cleared. */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

export const REGION = 'us-east-1';

/** Starts moto on a free port and the proxy on `port` (0: a free one). */
export async function startEmulator(port = 0): Promise<Emulator> {
  const moto = await startMoto();
  const proxy = await startFidelityProxy(moto.endpoint, port).catch(async (err: unknown) => {
    await moto.stop();
    throw err;
  });
  const control = new FidelityControl(proxy.endpoint);
  return {
    endpoint: proxy.endpoint,
    motoEndpoint: moto.endpoint,
    control,
    async reset() {
      await resetMoto(moto.endpoint);
      await control.reset();
    },
    async stop() {
      await proxy.stop();
      await moto.stop();
    },
  };
}

/** Points the AWS SDK of this process at the emulator (never at a real AWS endpoint). */
export function emulatorEnv(endpoint: string): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: REGION,
    AWS_DEFAULT_REGION: REGION,
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_SESSION_TOKEN: 'testing',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
}

export function useEmulator(endpoint: string): void {
  Object.assign(process.env, emulatorEnv(endpoint));
}
