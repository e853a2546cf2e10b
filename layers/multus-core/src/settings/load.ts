/**
 * Reading the runtime settings from SSM Parameter Store: one recursive by-path read through
 * Powertools Parameters, cached for POWERTOOLS_PARAMETERS_MAX_AGE seconds, so that
 * `aws ssm put-parameter --overwrite` changes behaviour without a redeploy.
 */
import { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { SettingsError } from '../errors';
import { parseSettings, type Settings } from './parse';

/** The raw parameters under a path, names relative to it. */
export interface SettingsSource {
  read(configPath: string): Promise<Record<string, string>>;
}

/** Checks CONFIG_PATH itself: an absolute SSM path. */
export function normaliseConfigPath(configPath: string | undefined): string {
  const path = (configPath ?? '').trim().replace(/\/+$/, '');
  if (path === '') throw new SettingsError(['CONFIG_PATH environment variable is not set']);
  if (!/^\/[A-Za-z0-9_.\-/]+$/.test(path)) {
    throw new SettingsError([`CONFIG_PATH "${configPath}" is not an SSM path such as /eks-multus-eni/my-stack`]);
  }
  return path;
}

/** Powertools-backed source: GetParametersByPath (recursive), cached by Powertools. */
export class SsmSettingsSource implements SettingsSource {
  private readonly provider: SSMProvider;
  constructor(ssm: SSMClient) {
    this.provider = new SSMProvider({ awsSdkV3Client: ssm });
  }
  async read(configPath: string): Promise<Record<string, string>> {
    const values = await this.provider.getMultiple(configPath, { recursive: true });
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(values ?? {})) {
      if (typeof value === 'string') out[name] = value;
    }
    return out;
  }
  /** Drops the cached values (tests, and the settings check that must see the latest). */
  clearCache(): void {
    this.provider.clearCache();
  }
}

/** Reads and validates the settings; every problem names its parameter. */
export async function loadSettings(source: SettingsSource, configPath: string): Promise<{
  settings: Settings;
  raw: Record<string, string>;
}> {
  const raw = await source.read(configPath);
  return { settings: parseSettings(raw, configPath), raw };
}

/** Seconds a cached value lives: POWERTOOLS_PARAMETERS_MAX_AGE, as Powertools reads it (default 5). */
export function cacheMaxAgeSeconds(env: NodeJS.ProcessEnv = process.env): number {
  const value = Number(env.POWERTOOLS_PARAMETERS_MAX_AGE);
  return Number.isFinite(value) && value >= 0 && env.POWERTOOLS_PARAMETERS_MAX_AGE?.trim() !== '' ? value : 5;
}
