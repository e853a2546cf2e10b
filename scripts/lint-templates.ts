// `npm run lint:templates`: cfn-lint (found as the tests find it: the pyenv glob, then PATH) on the
// root template (SAM transform included) and every nested template. `npm test` runs the same check.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { findTool } from '../tests/support/moto';
import { ROOT } from './lib/sam-build';

const lint = findTool('cfn-lint', ['--version']);
const templates = [join(ROOT, 'template.yaml'), ...readdirSync(join(ROOT, 'nested')).filter((f) => f.endsWith('.yaml')).map((f) => join(ROOT, 'nested', f))];
const out = spawnSync(lint, templates, { stdio: 'inherit' });
if (out.status === 0) console.log(`cfn-lint clean: ${templates.map((t) => t.slice(ROOT.length + 1)).join(', ')}`);
process.exit(out.status ?? 1);
