import { onEmf } from '../../scripts/lib/emf';

// This machine runs Node 20 (Lambda runs 22); the SDK's reminder about it is noise in test output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
// Handlers run in the test's process write their metrics (EMF) to stdout: kept off the test output
// (tests that read them use captureEmf in emf.ts).
onEmf(() => {});
