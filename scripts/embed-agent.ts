/**
 * `npm run embed-agent`: copies the node agent (node-agent/: the agent, its systemd units, its
 * udev rule) into the launch template's user data, between its marker lines, as shell that
 * installs each file. CloudFormation cannot read files of the repository, so the template carries
 * a copy; tests/unit/nested-templates.test.ts fails when the copy differs from node-agent/.
 * `--check` only says whether the copy is current (exit 1 when not).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ROOT } from './lib/sam-build';

/**
 * Each file of node-agent/ the node needs, where it goes and its mode. The agent goes gzipped and
 * base64-encoded (EC2 takes 16 KB of user data, and a node group or Karpenter merges parts of its
 * own in); the small units stay readable.
 */
export const AGENT_FILES: readonly { source: string; target: string; mode: string; packed?: true }[] = [
  { source: 'eks-multus-eni-agent', target: '/usr/local/bin/eks-multus-eni-agent', mode: '755', packed: true },
  { source: 'eks-multus-eni-agent@.service', target: '/etc/systemd/system/eks-multus-eni-agent@.service', mode: '644' },
  { source: 'eks-multus-eni-agent-sync.service', target: '/etc/systemd/system/eks-multus-eni-agent-sync.service', mode: '644' },
  { source: 'eks-multus-eni-agent-sync.timer', target: '/etc/systemd/system/eks-multus-eni-agent-sync.timer', mode: '644' },
  { source: '91-eks-multus-eni.rules', target: '/etc/udev/rules.d/91-eks-multus-eni.rules', mode: '644' },
];

export const BEGIN = '# --- eks-multus-eni node agent begin (generated from node-agent/ by npm run embed-agent) ---';
export const END = '# --- eks-multus-eni node agent end ---';
export const DELIMITER = 'EKS_MULTUS_ENI_FILE';
const TEMPLATE = join(ROOT, 'nested', 'launch-template.yaml');

/** The shell that installs every agent file under "$root" (quoted heredocs: the files go in verbatim). */
export function installScript(read: (file: string) => string = (f) => readFileSync(join(ROOT, 'node-agent', f), 'utf8')): string {
  const lines = [BEGIN];
  for (const { source, target, mode, packed } of AGENT_FILES) {
    const text = read(source);
    if (text.split('\n').includes(DELIMITER)) throw new Error(`node-agent/${source} holds the line ${DELIMITER}`);
    const dir = target.slice(0, target.lastIndexOf('/'));
    lines.push(`mkdir -p "$root${dir}"`);
    if (packed) {
      // gzip of Node's zlib carries no name and no time: the same file always packs the same.
      const b64 = gzipSync(Buffer.from(text, 'utf8'), { level: 9 }).toString('base64');
      lines.push(`base64 -d <<'${DELIMITER}' | gzip -dc >"$root${target}.tmp"`, ...(b64.match(/.{1,76}/g) ?? []), DELIMITER);
    } else {
      lines.push(`cat >"$root${target}.tmp" <<'${DELIMITER}'`, ...text.replace(/\n$/, '').split('\n'), DELIMITER);
    }
    lines.push(`chmod ${mode} "$root${target}.tmp"`, `mv -f "$root${target}.tmp" "$root${target}"`);
  }
  lines.push(END);
  return lines.join('\n');
}

/** The template with the install script between its markers, indented as the literal block there. */
export function embed(template: string, script = installScript()): string {
  const begin = template.indexOf(BEGIN);
  const end = template.indexOf(END);
  if (begin < 0 || end < begin) throw new Error(`nested/launch-template.yaml has no "${BEGIN}" ... "${END}" lines`);
  const indent = template.slice(template.lastIndexOf('\n', begin) + 1, begin);
  const body = script
    .split('\n')
    .map((line) => (line === '' ? '' : indent + line))
    .join('\n');
  return template.slice(0, begin - indent.length) + body + template.slice(end + END.length);
}

function main() {
  const current = readFileSync(TEMPLATE, 'utf8');
  const next = embed(current);
  if (process.argv.includes('--check')) {
    if (next !== current) {
      console.error('nested/launch-template.yaml does not carry node-agent/ as it is: run npm run embed-agent');
      process.exit(1);
    }
    console.log('nested/launch-template.yaml carries node-agent/ as it is');
    return;
  }
  writeFileSync(TEMPLATE, next);
  console.log(`nested/launch-template.yaml: node agent embedded (${AGENT_FILES.length} files)`);
}

if (require.main === module) main();
