// Environment of the integration tests' function under test, set before any module loads (the
// handler builds its logger and clients at import time, as in Lambda).
import { CONFIG_PATH, NODE_TAG_KEY } from './world';

process.env.CONFIG_PATH = CONFIG_PATH;
process.env.NODE_TAG_KEY = NODE_TAG_KEY;
process.env.POWERTOOLS_PARAMETERS_MAX_AGE = '60';
process.env.POWERTOOLS_LOG_LEVEL = process.env.TEST_LOG_LEVEL ?? 'SILENT';
