/**
 * The documentation cannot rot: in README.md, BENCHMARKS.md, node-agent/README.md and docs/*.md,
 *  - every relative link resolves: the file exists and, for `#anchor`, the target has a heading with
 *    that slug (GitHub's rules: the heading's text lower-cased, everything but letters, digits, `_`,
 *    `-` and spaces dropped, spaces made `-`, a repeated slug suffixed -1, -2...);
 *  - every command shown runs something real: in sh/bash code blocks every command (pipelines,
 *    `&&`, `;`, `$(...)` and shell functions included, heredoc bodies skipped) starts with a program
 *    of an allowlist; `npm run [-s] <script>` names a script of package.json, `npx <bin>` a binary of
 *    node_modules/.bin, `aws <service> <operation>` an operation of that service in the botocore data
 *    of the emulator's Python (moto depends on botocore, whose service models the AWS CLI uses) or
 *    one of the CLI's own commands, `sam <command>` a SAM CLI command, `kubectl <verb>` a kubectl
 *    verb. Inline code that starts with one of those programs is checked the same way.
 * Pure file reading, no emulator: the botocore data is read by running the Python that runs
 * moto_server (found as the tests find it), so a fresh machine with what the README lists has it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { findTool } from '../support/moto';

const ROOT = join(__dirname, '..', '..');
const DOCS = [
  'README.md',
  'BENCHMARKS.md',
  'node-agent/README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`),
];

/** Programs a shell line of the docs may start with (AWS, Kubernetes, the node's own tools, the shell's). */
const PROGRAMS = new Set([
  'aws', 'sam', 'kubectl', 'npm', 'npx', 'node', 'git', 'make', 'pip', 'apt-get', 'sudo', 'curl',
  'ip', 'journalctl', 'networkctl', 'udevadm', 'systemctl', 'sysctl', 'ls', 'cat', 'sed', 'grep', 'cut', 'xargs',
  'date', 'echo', 'tee', 'time', 'bash', 'moto_server', 'cfn-lint', 'shellcheck', 'eks-multus-eni-agent',
  'export', 'cd', 'true',
]);

/** SAM CLI commands (aws/aws-sam-cli samcli/cli/command.py and the groups' subcommands). */
const SAM_COMMANDS: Record<string, readonly string[]> = {
  init: [], validate: [], build: [], package: [], deploy: [], delete: [], logs: [], publish: [], traces: [],
  sync: [], docs: [],
  local: ['invoke', 'start-api', 'start-lambda', 'generate-event', 'callback', 'execution'],
  pipeline: ['init', 'bootstrap'],
  list: ['endpoints', 'resources', 'stack-outputs'],
  remote: ['invoke', 'test-event', 'callback', 'execution'],
};

/** kubectl's verbs (`kubectl help`). */
const KUBECTL_VERBS = new Set([
  'annotate', 'api-resources', 'api-versions', 'apply', 'attach', 'auth', 'autoscale', 'certificate', 'cluster-info',
  'completion', 'config', 'cordon', 'cp', 'create', 'debug', 'delete', 'describe', 'diff', 'drain', 'edit', 'events',
  'exec', 'explain', 'expose', 'get', 'kustomize', 'label', 'logs', 'patch', 'plugin', 'port-forward', 'proxy',
  'replace', 'rollout', 'run', 'scale', 'set', 'taint', 'top', 'uncordon', 'version', 'wait',
]);

const GIT_COMMANDS = new Set(['archive', 'clone', 'log', 'show', 'diff', 'status', 'merge', 'checkout', 'switch', 'fetch', 'pull', 'ls-tree', 'rev-parse', 'worktree']);

/**
 * The AWS CLI's own commands, which are not operations of a service model (awscli customizations):
 * `aws logs tail` is AWS CLI v2's (v1 has no such command).
 */
const AWS_CLI_COMMANDS: Record<string, readonly string[]> = {
  cloudformation: ['deploy', 'package'],
  eks: ['update-kubeconfig', 'get-token'],
  logs: ['tail'],
  s3: ['ls', 'cp', 'mv', 'rm', 'sync', 'mb', 'rb', 'presign', 'website'],
  configure: ['list', 'get', 'set', 'sso', 'export-credentials'],
};

/** CLI command names whose botocore service has another name. */
const BOTOCORE_NAME: Record<string, string> = { s3api: 's3', configservice: 'config', deploy: 'codedeploy' };

interface Shown {
  readonly file: string;
  readonly line: number;
  readonly text: string;
}

interface Parsed {
  readonly links: Shown[];
  readonly headings: string[];
  /** Each command of the sh/bash code blocks, as its words. */
  readonly shellCommands: (Shown & { words: string[] })[];
  readonly inlineCode: Shown[];
}

/** GitHub's heading anchor for the heading's Markdown text. */
export function slug(heading: string): string {
  const text = heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/`/g, '')
    .replace(/\*\*|__/g, '');
  return text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-');
}

function anchors(headings: string[]): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const h of headings) {
    const base = slug(h);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** Splits one logical shell line into commands (words), respecting quotes and $(...); substitutions become commands too. */
export function shellCommands(line: string): { commands: string[][]; heredoc?: string } {
  const commands: string[][] = [];
  let heredoc: string | undefined;
  let words: string[] = [];
  let word = '';
  let quote: '"' | "'" | undefined;
  let inWord = false;
  const endWord = () => {
    if (inWord) words.push(word);
    word = '';
    inWord = false;
  };
  const endCommand = () => {
    endWord();
    if (words.length) commands.push(words);
    words = [];
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word += c;
      continue;
    }
    if (c === '$' && line[i + 1] === '(') {
      // The substitution's text, to its matching parenthesis (quotes inside respected).
      let depth = 0;
      let j = i + 1;
      let q: string | undefined;
      for (; j < line.length; j++) {
        const d = line[j];
        if (q) {
          if (d === q) q = undefined;
          continue;
        }
        if (d === "'" || d === '"') q = d;
        else if (d === '(') depth++;
        else if (d === ')' && --depth === 0) break;
      }
      commands.push(...shellCommands(line.slice(i + 2, j)).commands);
      word += '$(...)';
      inWord = true;
      i = j;
      continue;
    }
    if (quote === '"') {
      if (c === '"') quote = undefined;
      else word += c;
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
      continue;
    }
    if (c === '#' && !inWord) break; // a comment to the end of the line
    if (c === ' ' || c === '\t') {
      endWord();
      continue;
    }
    if (c === ';' || c === '|' || (c === '&' && line[i + 1] === '&')) {
      if (c !== ';' && line[i + 1] === c) i++;
      endCommand();
      continue;
    }
    if (c === '<' && line[i + 1] === '<' && !inWord) {
      const m = /^<<-?\s*['"]?([A-Za-z_]+)['"]?/.exec(line.slice(i));
      if (m) {
        heredoc = m[1];
        i += m[0].length - 1;
        continue;
      }
    }
    word += c;
    inWord = true;
  }
  endCommand();
  return { commands, heredoc };
}

function parse(file: string): Parsed {
  const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
  const links: Shown[] = [];
  const headings: string[] = [];
  const shell: (Shown & { words: string[] })[] = [];
  const inlineCode: Shown[] = [];
  let fence: { marker: string; lang: string } | undefined;
  let pending = '';
  let pendingLine = 0;
  let heredoc: string | undefined;
  let prose: { text: string; line: number }[] = [];
  const flushProse = () => {
    // Inline code may run over a line break within a paragraph, never over a blank line.
    const text = prose.map((p) => p.text).join('\n');
    const lineAt = (offset: number) => prose[0].line + text.slice(0, offset).split('\n').length - 1;
    for (const m of text.matchAll(/`([^`]+)`/g)) inlineCode.push({ file, line: lineAt(m.index), text: m[1].replace(/\s*\n\s*/g, ' ') });
    const withoutCode = text.replace(/`[^`]*`/g, (s) => s.replace(/[^\n]/g, ' '));
    for (const m of withoutCode.matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) links.push({ file, line: lineAt(m.index), text: m[1] });
    prose = [];
  };
  lines.forEach((raw, i) => {
    const lineNo = i + 1;
    const open = /^\s*(```+|~~~+)\s*([\w-]*)/.exec(raw);
    if (fence) {
      if (open && open[1].startsWith(fence.marker) && raw.trim() === open[1]) {
        fence = undefined;
        return;
      }
      if (!['sh', 'bash', 'shell', 'console'].includes(fence.lang)) return;
      if (heredoc) {
        if (raw.trim() === heredoc) heredoc = undefined;
        return;
      }
      const text = raw.replace(/^\s*\$ /, '');
      if (!pending) pendingLine = lineNo;
      if (/\\\s*$/.test(text)) {
        pending += text.replace(/\\\s*$/, ' ');
        return;
      }
      const logical = pending + text;
      pending = '';
      const parsed = shellCommands(logical);
      for (const words of parsed.commands) shell.push({ file, line: pendingLine, text: logical.trim(), words });
      heredoc = parsed.heredoc;
      return;
    }
    if (open) {
      flushProse();
      fence = { marker: open[1], lang: open[2].toLowerCase() };
      return;
    }
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(raw);
    if (heading) headings.push(heading[1]);
    if (raw.trim() === '') flushProse();
    else prose.push({ text: raw, line: lineNo });
  });
  flushProse();
  return { links, headings, shellCommands: shell, inlineCode };
}

const parsed = new Map(DOCS.map((f) => [f, parse(f)]));
const scripts = new Set(Object.keys((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts));

/** The shell functions the docs' code blocks define (`out() { ...; }`), callable as programs there. */
function definedFunctions(p: Parsed): Set<string> {
  const names = new Set<string>();
  for (const c of p.shellCommands) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)\(\)$/.exec(c.words[0] ?? '');
    if (m) names.add(m[1]);
  }
  return names;
}

/** A command's words without leading variable assignments, `{`, `}` or a function definition's head. */
function commandWords(words: string[]): string[] {
  let w = words;
  if (/^[A-Za-z_][A-Za-z0-9_]*\(\)$/.test(w[0] ?? '')) w = w.slice(1);
  while (w.length && (/^[A-Za-z_][A-Za-z0-9_]*=/.test(w[0]) || w[0] === '{' || w[0] === '}')) w = w.slice(1);
  if (w[0] === 'sudo') w = w.slice(1);
  if (w[0] === 'xargs') {
    // xargs [-I {}] [options] command...
    let k = 1;
    while (k < w.length && w[k].startsWith('-')) k += w[k] === '-I' ? 2 : 1;
    return w.slice(k);
  }
  return w;
}

/** The botocore operation names (and waiters) of each service the docs' `aws` commands name. */
function botocoreModels(services: string[]): Record<string, { operations: string[]; waiters: string[] } | null> {
  const moto = findTool('moto_server');
  const shebang = readFileSync(moto, 'utf8').split('\n')[0];
  const python = shebang.startsWith('#!') ? shebang.slice(2).trim().split(/\s+/) : [join(dirname(moto), 'python')];
  const program = [
    'import json, sys, botocore.session',
    's = botocore.session.get_session()',
    'available = set(s.get_available_services())',
    'out = {}',
    'for name in json.loads(sys.argv[1]):',
    '    if name not in available:',
    '        out[name] = None',
    '        continue',
    '    model = s.get_service_model(name)',
    '    try:',
    '        waiters = list(s.get_waiter_model(name).waiter_names)',
    '    except Exception:',
    '        waiters = []',
    "    out[name] = {'operations': list(model.operation_names), 'waiters': waiters}",
    'print(json.dumps(out))',
  ].join('\n');
  const [cmd, ...args] = python;
  const run = spawnSync(cmd, [...args, '-c', program, JSON.stringify(services)], { encoding: 'utf8', timeout: 60_000 });
  if (run.status !== 0) throw new Error(`reading the botocore service models with ${python.join(' ')} failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as Record<string, { operations: string[]; waiters: string[] } | null>;
}

const squash = (s: string) => s.replace(/-/g, '').toLowerCase();

/** Problems with one command (its words, program first); `shell` says whether the program must be allowlisted. */
function commandProblems(words: string[], shell: boolean, functions: Set<string>, aws: Map<string, string[]>): string[] {
  const [program, ...rest] = words;
  if (program === undefined) return [];
  if (program.startsWith('$(') || program.startsWith('./') || program.startsWith('/')) return [];
  if (functions.has(program)) return [];
  if (shell && !PROGRAMS.has(program)) return [`"${program}" is not a program the docs may show (the allowlist of tests/unit/docs.test.ts)`];
  if (rest[0] === '--version' || rest[0] === '--help') return [];
  const args = rest.filter((w) => !w.startsWith('-'));
  switch (program) {
    case 'npm': {
      const [sub, ...more] = rest;
      if (sub === 'run' || sub === 'run-script') {
        const script = more.find((w) => !w.startsWith('-'));
        if (script === undefined) return ['`npm run` with no script'];
        return scripts.has(script) ? [] : [`npm script "${script}" is not in package.json (scripts: ${[...scripts].join(', ')})`];
      }
      return ['test', 'install', 'i', 'ci'].includes(sub ?? '') ? [] : [`npm ${sub ?? ''}: only npm run <script>, npm test, npm install and npm ci are shown`];
    }
    case 'npx': {
      const bin = args[0];
      return bin && existsSync(join(ROOT, 'node_modules', '.bin', bin)) ? [] : [`npx ${bin ?? ''}: no such binary in node_modules/.bin`];
    }
    case 'sam': {
      const [cmd, sub] = args;
      const subs = SAM_COMMANDS[cmd ?? ''];
      if (!subs) return [`"sam ${cmd ?? ''}" is not a SAM CLI command`];
      return subs.length === 0 || subs.includes(sub ?? '') ? [] : [`"sam ${cmd} ${sub ?? ''}" is not a SAM CLI command`];
    }
    case 'kubectl':
      return KUBECTL_VERBS.has(args[0] ?? '') ? [] : [`"kubectl ${args[0] ?? ''}" is not a kubectl command`];
    case 'git':
      return GIT_COMMANDS.has(args[0] ?? '') ? [] : [`"git ${args[0] ?? ''}" is not a git command the docs may show`];
    case 'aws': {
      const [service, operation] = args;
      if (service === undefined || operation === undefined) return ['`aws` with no service and operation'];
      if (AWS_CLI_COMMANDS[service]?.includes(operation)) return [];
      const known = aws.get(service);
      if (known === undefined) return [`"aws ${service}" is not a service of the AWS CLI`];
      return known.includes(squash(operation)) ? [] : [`"aws ${service} ${operation}" is not an operation of ${service}`];
    }
    default:
      return [];
  }
}

/** The inline code spans that show a command: they start with one of the programs whose subcommands are checked. */
const CHECKED_INLINE = /^(sudo )?(npm|npx|aws|sam|kubectl|git) \S/;

function allCommands(): { shown: Shown; words: string[]; shell: boolean; functions: Set<string> }[] {
  const out: { shown: Shown; words: string[]; shell: boolean; functions: Set<string> }[] = [];
  for (const p of parsed.values()) {
    const functions = definedFunctions(p);
    for (const c of p.shellCommands) out.push({ shown: c, words: commandWords(c.words), shell: true, functions });
    for (const c of p.inlineCode) {
      if (!CHECKED_INLINE.test(c.text)) continue;
      for (const words of shellCommands(c.text).commands) out.push({ shown: c, words: commandWords(words), shell: false, functions });
    }
  }
  return out;
}

function awsOperations(commands: { words: string[] }[]): Map<string, string[]> {
  const services = [...new Set(commands.filter((c) => c.words[0] === 'aws').map((c) => c.words.slice(1).find((w) => !w.startsWith('-')) ?? ''))].filter(
    (s) => s && !(s in AWS_CLI_COMMANDS && !['cloudformation', 'eks', 'logs'].includes(s)),
  );
  const models = botocoreModels(services.map((s) => BOTOCORE_NAME[s] ?? s));
  const out = new Map<string, string[]>();
  for (const s of services) {
    const model = models[BOTOCORE_NAME[s] ?? s];
    if (model) out.set(s, [...model.operations.map(squash), ...(model.waiters.length ? ['wait'] : [])]);
  }
  return out;
}

describe('the documentation (README.md, BENCHMARKS.md, node-agent/README.md, docs/*.md)', () => {
  test('every relative link resolves: the file exists, and the heading of a #anchor exists in it (GitHub slugs)', () => {
    const problems: string[] = [];
    for (const p of parsed.values()) {
      for (const link of p.links) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(link.text)) continue; // https:, mailto:
        const [path, anchor] = link.text.split('#', 2);
        const target = path === '' ? join(ROOT, link.file) : resolve(dirname(join(ROOT, link.file)), decodeURIComponent(path));
        const where = `${link.file}:${link.line}: link (${link.text})`;
        if (!existsSync(target)) {
          problems.push(`${where}: no file ${relative(ROOT, target)}`);
          continue;
        }
        if (anchor === undefined) continue;
        if (statSync(target).isDirectory() || !target.endsWith('.md')) {
          problems.push(`${where}: an anchor on something that is not a Markdown file`);
          continue;
        }
        const rel = relative(ROOT, target);
        const headings = parsed.get(rel)?.headings ?? parse(rel).headings;
        if (!anchors(headings).has(anchor)) problems.push(`${where}: no heading with the anchor #${anchor} in ${rel}`);
      }
    }
    expect(problems).toEqual([]);
  });

  test('every command shown is real: npm scripts of package.json, npx binaries, AWS CLI operations (botocore), SAM CLI and kubectl commands, allowlisted programs', () => {
    const commands = allCommands();
    const aws = awsOperations(commands);
    const problems = commands.flatMap((c) => commandProblems(c.words, c.shell, c.functions, aws).map((why) => `${c.shown.file}:${c.shown.line}: \`${c.shown.text}\`: ${why}`));
    expect(problems).toEqual([]);
    // The check saw what it should: the quick start, an AWS command and the Karpenter snippet's substitution.
    const seen = commands.map((c) => c.words.slice(0, 3).join(' '));
    expect(seen).toEqual(expect.arrayContaining(['npm run demo', 'npm test', 'aws ssm put-parameter', 'npm run -s', 'sam deploy --guided', 'kubectl apply -f']));
  }, 60_000);

  test('the checks themselves: a GitHub slug, a shell line split into commands, an unknown npm script and AWS operation caught', () => {
    expect(slug('`<stack>-dead-letter-queue`')).toBe('stack-dead-letter-queue');
    expect(slug('Runtime settings (SSM Parameter Store, under `CONFIG_PATH`)')).toBe('runtime-settings-ssm-parameter-store-under-config_path');
    expect(slug('Packaging: the layer, the bundles and `sam build`')).toBe('packaging-the-layer-the-bundles-and-sam-build');
    expect(anchors(['Metrics', 'Metrics'])).toEqual(new Set(['metrics', 'metrics-1']));

    const line = `USER_DATA=$(npm run -s node-user-data -- --interfaces 2 | sed 's/^/    /') && aws logs tail "/x" --filter-pattern '{ ($.a = "b") || ($.c = "d") }' # comment | not a command`;
    expect(shellCommands(line).commands.map((w) => commandWords(w)[0])).toEqual(['npm', 'sed', undefined, 'aws']);
    expect(shellCommands('kubectl apply -f - <<MANIFEST').heredoc).toBe('MANIFEST');

    const none = new Set<string>();
    const aws = new Map([['ec2', ['describenetworkinterfaces']]]);
    expect(commandProblems(['npm', 'run', '-s', 'no-such-script'], true, none, aws)).toEqual([expect.stringContaining('npm script "no-such-script" is not in package.json')]);
    expect(commandProblems(['aws', 'ec2', 'describe-network-interface'], true, none, aws)).toEqual([expect.stringContaining('not an operation of ec2')]);
    expect(commandProblems(['aws', 'ec2', 'describe-network-interfaces', '--filters', 'x'], true, none, aws)).toEqual([]);
    expect(commandProblems(['rm', '-rf', '/'], true, none, aws)).toEqual([expect.stringContaining('"rm" is not a program')]);
  });
});
