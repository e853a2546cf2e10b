/**
 * `npm run embed-agent`: copies the node agent (node-agent/: the agent, its systemd units, its
 * udev rule) into the launch template's user data, between its marker lines, as a packed shell
 * script that installs each file. CloudFormation cannot read files of the repository, so the
 * template carries a copy; tests/unit/nested-templates.test.ts fails when the copy differs from
 * node-agent/.
 * `--check` only says whether the copy is current (exit 1 when not).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { ROOT } from './lib/sam-build';

/** Each file of node-agent/ the node needs, where it goes and its mode. */
export const AGENT_FILES: readonly { source: string; target: string; mode: string }[] = [
  { source: 'eks-multus-eni-agent', target: '/usr/local/bin/eks-multus-eni-agent', mode: '755' },
  { source: 'eks-multus-eni-agent@.service', target: '/etc/systemd/system/eks-multus-eni-agent@.service', mode: '644' },
  { source: 'eks-multus-eni-agent-sync.service', target: '/etc/systemd/system/eks-multus-eni-agent-sync.service', mode: '644' },
  { source: 'eks-multus-eni-agent-sync.timer', target: '/etc/systemd/system/eks-multus-eni-agent-sync.timer', mode: '644' },
  { source: '91-eks-multus-eni.rules', target: '/etc/udev/rules.d/91-eks-multus-eni.rules', mode: '644' },
];

export const BEGIN = '# --- eks-multus-eni node agent begin (generated from node-agent/ by npm run embed-agent) ---';
export const END = '# --- eks-multus-eni node agent end ---';
export const DELIMITER = 'EKS_MULTUS_ENI_FILE';
const TEMPLATE = join(ROOT, 'nested', 'launch-template.yaml');

/** The first lines of the agent, kept on the node: what it is, and where its commented source is. */
const AGENT_HEADER = 3;

/**
 * A file as the node gets it. The agent goes without its comment lines (about 2 KB of the 16 KB of
 * user data, once packed): every full-line comment after its header, but in here-documents, where
 * a "#" line is text the agent writes, and after a line continued by a backslash. Its tests run the
 * agent of node-agent/ and, through the boot step, this copy, and hold the two to the same
 * functions as bash parses them (declare -f). The other files go as they are.
 */
export function installedText(source: string, text: string): string {
  if (source !== 'eks-multus-eni-agent') return text;
  const out: string[] = [];
  let heredoc: { word: string; tabs: boolean } | undefined;
  for (const [n, line] of text.split('\n').entries()) {
    if (heredoc !== undefined) {
      if ((heredoc.tabs ? line.replace(/^\t+/, '') : line) === heredoc.word) heredoc = undefined;
    } else if (n >= AGENT_HEADER && /^\s*#/.test(line) && !/(^|[^\\])(\\\\)*\\$/.test(out.at(-1) ?? '')) continue;
    else {
      const start = /(?<!<)<<(-?)\s*(['"]?)([A-Za-z_]\w*)\2/.exec(line);
      if (start) heredoc = { word: start[3], tabs: start[1] === '-' };
    }
    out.push(line);
  }
  if (heredoc !== undefined) throw new Error(`node-agent/${source}: the here-document ${heredoc.word} never ends`);
  return [...out.slice(0, AGENT_HEADER), '# (installed without its comment lines: the commented source is node-agent/eks-multus-eni-agent in eks-multus-eni)', ...out.slice(AGENT_HEADER)].join('\n');
}

/**
 * The bash script that installs every agent file under the root given as its argument: quoted
 * heredocs (the files go in verbatim), each to a temporary name, its mode set, then moved.
 */
export function installScript(read: (file: string) => string = (f) => readFileSync(join(ROOT, 'node-agent', f), 'utf8')): string {
  const lines = ['# eks-multus-eni: installs the node agent (node-agent/ of eks-multus-eni) under the root $1.', 'root=$1'];
  for (const { source, target, mode } of AGENT_FILES) {
    const text = installedText(source, read(source));
    if (text.split('\n').includes(DELIMITER)) throw new Error(`node-agent/${source} holds the line ${DELIMITER}`);
    const dir = target.slice(0, target.lastIndexOf('/'));
    lines.push(`mkdir -p "$root${dir}"`, `cat >"$root${target}.tmp" <<'${DELIMITER}'`, ...text.replace(/\n$/, '').split('\n'), DELIMITER);
    lines.push(`chmod ${mode} "$root${target}.tmp"`, `mv -f "$root${target}.tmp" "$root${target}"`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The user data's copy: the install script gzipped and base64-encoded in one quoted heredoc, run by
 * bash with "$root". EC2 takes 16 KB of user data (before its own base64) and a node group or
 * Karpenter merges parts of its own in: one stream compresses the agent and its units together
 * (about 2.6 KB less than the agent packed alone and the units as text). gzip of Node's zlib
 * carries no name and no time: the same files always pack the same.
 */
export function packedInstall(script = installScript()): string {
  const b64 = gzipSync(Buffer.from(script, 'utf8'), { level: 9 }).toString('base64');
  return [BEGIN, `base64 -d <<'${DELIMITER}' | gzip -dc | bash -eu -o pipefail -s "$root"`, ...(b64.match(/.{1,76}/g) ?? []), DELIMITER, END].join('\n');
}

/** The install script a user data script carries (what packedInstall wrote into it). */
export function unpackInstall(userData: string): string {
  const start = userData.indexOf(`| bash -eu -o pipefail -s "$root"\n`);
  if (start < 0) throw new Error('the user data carries no packed node agent');
  const body = userData.slice(userData.indexOf('\n', start) + 1);
  return gunzipSync(Buffer.from(body.slice(0, body.indexOf(`\n${DELIMITER}\n`)).replace(/\n/g, ''), 'base64')).toString('utf8');
}

/** The template with the install script between its markers, indented as the literal block there. */
export function embed(template: string, script = packedInstall()): string {
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
