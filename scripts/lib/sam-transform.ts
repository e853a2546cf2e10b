/**
 * The CloudFormation that `sam deploy` submits for a SAM template: the SAM transform applied by the
 * translator cfn-lint bundles (scripts/lib/sam-transform.py), so that tests can check what SAM
 * generates (function roles, rules, event invoke configs, queues) and not only what we wrote.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Template } from './template';

/** The Python interpreter that runs `cfnLint` (its shebang, else the python3 beside it). */
export function pythonOf(cfnLint: string): string {
  const first = readFileSync(cfnLint, 'utf8').split('\n', 1)[0];
  const shebang = /^#!\s*(\S*python[0-9.]*)\s*$/.exec(first)?.[1];
  if (shebang && existsSync(shebang)) return shebang;
  for (const name of ['python3', 'python']) {
    const beside = join(dirname(cfnLint), name);
    if (existsSync(beside)) return beside;
  }
  throw new Error(`cannot tell which Python runs ${cfnLint} (first line: ${first})`);
}

/** Expands the SAM template at `templatePath` with cfn-lint's SAM translator. */
export function samTransform(templatePath: string, cfnLint: string, region = 'us-east-1'): Template {
  const out = spawnSync(pythonOf(cfnLint), [join(__dirname, 'sam-transform.py'), templatePath, region], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (out.status !== 0) throw new Error(`SAM transform of ${templatePath} failed (${out.status}): ${out.stderr}`);
  return JSON.parse(out.stdout) as Template;
}
