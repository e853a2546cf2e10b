/**
 * Imported first by the local scripts (invoke, settings, demo, emulator), before anything builds an
 * AWS SDK client: see sdk-node-warning.ts.
 */
import { deferSdkNodeWarning } from './sdk-node-warning';

deferSdkNodeWarning();
