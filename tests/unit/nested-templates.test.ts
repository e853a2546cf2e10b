/**
 * The nested CloudFormation templates (nested/infra.yaml, nested/launch-template.yaml) and the
 * node boot step embedded in the launch template's user data.
 *
 * Template checks parse the YAML with the CloudFormation short-form tags and evaluate intrinsic
 * functions with a small evaluator (parameters, conditions, Ref/GetAtt/Sub/If/Join/Select), so that
 * every combination of the condition parameters is checked for references to resources the
 * conditions leave out, and the launch template's user data is rendered and read back as MIME.
 *
 * The boot step is extracted verbatim from the template (between its marker lines) and run with
 * bash against a fake instance metadata service on 127.0.0.1 (IMDSv2 tokens enforced), with stub
 * `ip`, `sysctl` and `networkctl` commands on PATH and temporary output directories. No emulator
 * and no AWS: nothing here talks to EC2.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { parseTemplate, type Template } from '../../scripts/lib/template';

const NESTED = join(__dirname, '..', '..', 'nested');
const INFRA_PATH = join(NESTED, 'infra.yaml');
const LAUNCH_TEMPLATE_PATH = join(NESTED, 'launch-template.yaml');
const BEGIN_MARKER = '# --- multus-wait begin ---';
const END_MARKER = '# --- multus-wait end ---';

type Dict = Record<string, unknown>;

const infraSource = readFileSync(INFRA_PATH, 'utf8');
const launchSource = readFileSync(LAUNCH_TEMPLATE_PATH, 'utf8');
const infra = parseTemplate(infraSource);
const launch = parseTemplate(launchSource);

// ---------------------------------------------------------------------------------------------
// A small evaluator for the intrinsic functions these templates use.

const NO_VALUE = Symbol('AWS::NoValue');

interface Scope {
  template: Template;
  params: Record<string, string>;
  conditions: Record<string, boolean>;
}

function isDict(value: unknown): value is Dict {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function scopeFor(template: Template, given: Record<string, string>): Scope {
  const params: Record<string, string> = {};
  for (const [name, param] of Object.entries(template.Parameters ?? {})) {
    const value = given[name] ?? (param.Default === undefined ? undefined : String(param.Default));
    if (value === undefined) throw new Error(`parameter ${name} has no default and no test value`);
    // An SSM-typed parameter names an SSM parameter; CloudFormation hands the template its value.
    params[name] = param.Type.startsWith('AWS::SSM::Parameter::Value<') ? `<resolved ${name}>` : value;
  }
  const scope: Scope = { template, params, conditions: {} };
  const pending = new Set<string>();
  const condition = (name: string): boolean => {
    if (name in scope.conditions) return scope.conditions[name];
    const definition = template.Conditions?.[name];
    if (definition === undefined) throw new Error(`unknown condition ${name}`);
    if (pending.has(name)) throw new Error(`condition ${name} refers to itself`);
    pending.add(name);
    scope.conditions[name] = evalCondition(definition);
    return scope.conditions[name];
  };
  const evalCondition = (node: unknown): boolean => {
    if (!isDict(node)) throw new Error(`not a condition: ${JSON.stringify(node)}`);
    const [fn, arg] = Object.entries(node)[0];
    const args = arg as unknown[];
    switch (fn) {
      case 'Condition':
        return condition(arg as string);
      case 'Fn::Equals':
        return String(evaluate(args[0], scope)) === String(evaluate(args[1], scope));
      case 'Fn::Not':
        return !evalCondition(args[0]);
      case 'Fn::And':
        return args.every((a) => evalCondition(a));
      case 'Fn::Or':
        return args.some((a) => evalCondition(a));
      default:
        throw new Error(`unsupported condition function ${fn}`);
    }
  };
  for (const name of Object.keys(template.Conditions ?? {})) condition(name);
  return scope;
}

function resourceEnabled(scope: Scope, name: string): boolean {
  const resource = scope.template.Resources[name];
  if (resource === undefined) throw new Error(`unknown resource ${name}`);
  return resource.Condition === undefined || scope.conditions[resource.Condition];
}

function ref(scope: Scope, name: string): unknown {
  if (name === 'AWS::NoValue') return NO_VALUE;
  if (name.startsWith('AWS::')) return `<${name}>`;
  if (name in scope.params) return scope.params[name];
  if (!resourceEnabled(scope, name)) throw new Error(`Ref ${name}: the conditions leave that resource out`);
  return `<${name}>`;
}

function getAtt(scope: Scope, name: string, attribute: string): string {
  if (!resourceEnabled(scope, name)) throw new Error(`GetAtt ${name}.${attribute}: the conditions leave that resource out`);
  return `<${name}.${attribute}>`;
}

function evaluate(node: unknown, scope: Scope): unknown {
  if (Array.isArray(node)) return node.map((n) => evaluate(n, scope)).filter((v) => v !== NO_VALUE);
  if (!isDict(node)) return node;
  const keys = Object.keys(node);
  if (keys.length === 1 && (keys[0] === 'Ref' || keys[0].startsWith('Fn::'))) {
    const fn = keys[0];
    const arg = node[fn];
    const args = arg as unknown[];
    switch (fn) {
      case 'Ref':
        return ref(scope, arg as string);
      case 'Fn::GetAtt':
        return getAtt(scope, args[0] as string, args[1] as string);
      case 'Fn::If':
        return evaluate(scope.conditions[args[0] as string] ? args[1] : args[2], scope);
      case 'Fn::Join':
        return (evaluate(args[1], scope) as unknown[]).map(String).join(args[0] as string);
      case 'Fn::Select': {
        const list = evaluate(args[1], scope) as unknown[];
        const index = Number(evaluate(args[0], scope));
        if (!(index < list.length)) throw new Error(`Fn::Select index ${index} beyond ${list.length} items`);
        return list[index];
      }
      case 'Fn::GetAZs':
        return ['az-a', 'az-b', 'az-c'];
      case 'Fn::Cidr': {
        const count = Number(evaluate(args[1], scope));
        return Array.from({ length: count }, (_, i) => `<cidr ${i} of ${count}>`);
      }
      case 'Fn::Base64':
        return String(evaluate(arg, scope));
      case 'Fn::Sub': {
        const [text, variables] = typeof arg === 'string' ? [arg, {}] : (arg as [string, Dict]);
        const values: Dict = {};
        for (const [k, v] of Object.entries(variables)) values[k] = evaluate(v, scope);
        return text.replace(/\$\{([^}]+)\}/g, (_, name: string) => {
          if (name.startsWith('!')) return `\${${name.slice(1)}}`;
          if (name in values) return String(values[name]);
          const dot = name.indexOf('.');
          if (dot > 0 && !name.startsWith('AWS::')) return getAtt(scope, name.slice(0, dot), name.slice(dot + 1));
          return String(ref(scope, name));
        });
      }
      default:
        throw new Error(`unsupported function ${fn}`);
    }
  }
  const out: Dict = {};
  for (const [k, v] of Object.entries(node)) {
    const value = evaluate(v, scope);
    if (value !== NO_VALUE) out[k] = value;
  }
  return out;
}

/** Evaluates every resource and output the conditions keep; throws on a dangling reference. */
function evaluateAll(scope: Scope): { resources: Record<string, Dict>; outputs: Record<string, unknown> } {
  const resources: Record<string, Dict> = {};
  for (const [name, resource] of Object.entries(scope.template.Resources)) {
    if (!resourceEnabled(scope, name)) continue;
    for (const dependency of [resource.DependsOn ?? []].flat()) {
      if (!resourceEnabled(scope, dependency)) throw new Error(`${name} DependsOn ${dependency}, which is left out`);
    }
    resources[name] = evaluate(resource.Properties ?? {}, scope) as Dict;
  }
  const outputs: Record<string, unknown> = {};
  for (const [name, output] of Object.entries(scope.template.Outputs ?? {})) {
    if (output.Condition !== undefined && !scope.conditions[output.Condition]) continue;
    outputs[name] = evaluate(output.Value, scope);
  }
  return { resources, outputs };
}

// ---------------------------------------------------------------------------------------------
// MIME multi-part user data.

interface MimePart {
  headers: Record<string, string>;
  body: string;
}

function parseMime(text: string): { headers: Record<string, string>; parts: MimePart[] } {
  const splitHeaders = (block: string): Record<string, string> =>
    Object.fromEntries(
      block
        .split('\n')
        .filter((line) => line.includes(':'))
        .map((line) => [line.slice(0, line.indexOf(':')).trim().toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
    );
  const headerEnd = text.indexOf('\n\n');
  const headers = splitHeaders(text.slice(0, headerEnd));
  const boundary = /boundary="?([^";]+)"?/.exec(headers['content-type'] ?? '')?.[1];
  if (boundary === undefined) throw new Error('user data has no multipart boundary');
  const close = `\n--${boundary}--`;
  if (!text.includes(close)) throw new Error('user data lacks the closing boundary');
  const chunks = text.slice(headerEnd, text.indexOf(close)).split(`\n--${boundary}\n`).slice(1);
  const parts = chunks.map((chunk) => {
    const end = chunk.indexOf('\n\n');
    return { headers: splitHeaders(chunk.slice(0, end)), body: chunk.slice(end + 2) };
  });
  return { headers, parts };
}

const CLUSTER = {
  ClusterName: 'demo-cluster',
  ClusterEndpoint: 'https://ABCDEF0123456789.gr7.us-east-1.eks.amazonaws.com',
  ClusterCertificateAuthority: 'LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t',
  NodeSecurityGroupIds: 'sg-0123456789abcdef0,sg-0fedcba9876543210',
};

function renderUserData(overrides: Record<string, string> = {}): string {
  const scope = scopeFor(launch, { ...CLUSTER, ...overrides });
  const { resources } = evaluateAll(scope);
  const data = resources.NodeLaunchTemplate.LaunchTemplateData as Dict;
  return data.UserData as string;
}

/** The boot step exactly as the template carries it, from the begin marker to the end marker. */
function extractBootScript(): string {
  const userData = (launch.Resources.NodeLaunchTemplate.Properties?.LaunchTemplateData as Dict).UserData as Dict;
  const pieces = (userData['Fn::Base64'] as Dict)['Fn::Join'] as [string, unknown[]];
  const literal = pieces[1].find((p): p is string => typeof p === 'string' && p.includes(BEGIN_MARKER));
  if (literal === undefined) throw new Error('no literal user-data piece carries the begin marker');
  const begin = literal.indexOf(BEGIN_MARKER);
  const end = literal.indexOf(END_MARKER);
  expect(end).toBeGreaterThan(begin);
  return literal.slice(begin, end + END_MARKER.length) + '\n';
}

// ---------------------------------------------------------------------------------------------

describe('nested templates', () => {
  test.each([
    ['infra.yaml', infra],
    ['launch-template.yaml', launch],
  ])('%s parses as plain CloudFormation', (_name, template) => {
    expect(template.AWSTemplateFormatVersion).toBe('2010-09-09');
    expect(template.Transform).toBeUndefined();
    expect(Object.keys(template.Resources).length).toBeGreaterThan(0);
  });

  test.each([
    ['infra.yaml', infraSource, infra],
    ['launch-template.yaml', launchSource, launch],
  ])('every resource in %s has a comment line directly above it', (_name, source, template) => {
    const lines = source.split('\n');
    const start = lines.findIndex((line) => /^Resources:\s*$/.test(line));
    expect(start).toBeGreaterThanOrEqual(0);
    const seen: string[] = [];
    const uncommented: string[] = [];
    for (let i = start + 1; i < lines.length && !/^\S/.test(lines[i]); i++) {
      const key = /^ {2}([A-Za-z0-9]+):\s*$/.exec(lines[i]);
      if (key === null) continue;
      seen.push(key[1]);
      if (!/^\s*#\s*\S/.test(lines[i - 1])) uncommented.push(key[1]);
    }
    expect(seen.sort()).toEqual(Object.keys(template.Resources).sort());
    expect(uncommented).toEqual([]);
  });

  describe('infra.yaml', () => {
    const combinations = ['2', '3'].flatMap((AzCount) =>
      ['1', '2'].flatMap((MultusSubnetsPerAz) =>
        ['Single', 'PerAz'].map((NatGatewayMode) => ({ AzCount, MultusSubnetsPerAz, NatGatewayMode })),
      ),
    );

    test.each(combinations)(
      'AzCount=$AzCount MultusSubnetsPerAz=$MultusSubnetsPerAz NatGatewayMode=$NatGatewayMode: multus subnets per AZ and per-AZ outputs',
      (params) => {
        const { resources, outputs } = evaluateAll(scopeFor(infra, params));
        const azCount = Number(params.AzCount);
        const perAz = Number(params.MultusSubnetsPerAz);

        const multus = Object.entries(resources).filter(([name, props]) => {
          const tags = (props.Tags ?? []) as { Key: string; Value: string }[];
          const tagged = tags.some((t) => t.Key === 'eks-multus-eni/multus-subnet' && t.Value === 'true');
          return infra.Resources[name].Type === 'AWS::EC2::Subnet' && tagged;
        });
        const byAz = new Map<string, string[]>();
        for (const [name, props] of multus) {
          byAz.set(String(props.AvailabilityZone), [...(byAz.get(String(props.AvailabilityZone)) ?? []), name]);
        }
        expect([...byAz.keys()].sort()).toEqual(['az-a', 'az-b', 'az-c'].slice(0, azCount));
        for (const names of byAz.values()) expect(names).toHaveLength(perAz);

        // Multus subnets are on the local-only route table, never behind a NAT or internet gateway.
        for (const [name] of multus) {
          const association = Object.values(resources).find((p) => p.SubnetId === `<${name}>`);
          expect(association?.RouteTableId).toBe('<MultusRouteTable>');
        }
        const multusRoutes = Object.values(resources).filter((p) => p.RouteTableId === '<MultusRouteTable>' && 'DestinationCidrBlock' in p);
        expect(multusRoutes).toEqual([]);

        const natGateways = Object.keys(resources).filter((n) => infra.Resources[n].Type === 'AWS::EC2::NatGateway');
        expect(natGateways).toHaveLength(params.NatGatewayMode === 'PerAz' ? azCount : 1);

        const subnetsOf = (az: number) =>
          [1, 2]
            .slice(0, perAz)
            .map((i) => `<MultusSubnetAz${az}${i === 1 ? 'First' : 'Second'}>`)
            .join(',');
        expect(outputs.Az1MultusSubnetIds).toBe(subnetsOf(1));
        expect(outputs.Az2MultusSubnetIds).toBe(subnetsOf(2));
        expect(outputs.Az3MultusSubnetIds).toBe(azCount === 3 ? subnetsOf(3) : '');
        expect(outputs.Az1Name).toBe('<MultusSubnetAz1First.AvailabilityZone>');
        expect(outputs.Az3Name).toBe(azCount === 3 ? '<MultusSubnetAz3First.AvailabilityZone>' : '');
        expect(String(outputs.PrivateSubnetIds).split(',')).toHaveLength(azCount);

        const cluster = resources.Cluster;
        expect((cluster.ResourcesVpcConfig as Dict).SubnetIds).toHaveLength(azCount);
        for (const name of ['VpcId', 'ClusterName', 'ClusterSecurityGroupId', 'NodeSecurityGroupId', 'MultusSecurityGroupId']) {
          expect(outputs[name]).toEqual(expect.any(String));
        }
      },
    );

    test('the EKS cluster is pinned to a supported Kubernetes version, with API_AND_CONFIG_MAP access', () => {
      const version = infra.Parameters?.KubernetesVersion;
      expect(version?.Default).toMatch(/^1\.\d+$/);
      expect(version?.AllowedValues).toContain(version?.Default);
      const cluster = infra.Resources.Cluster;
      expect(cluster.Type).toBe('AWS::EKS::Cluster');
      expect(cluster.Properties?.Version).toEqual({ Ref: 'KubernetesVersion' });
      expect(cluster.Properties?.AccessConfig).toMatchObject({ AuthenticationMode: 'API_AND_CONFIG_MAP' });
      const role = infra.Resources[(cluster.Properties?.RoleArn as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0]];
      expect(JSON.stringify(role.Properties?.ManagedPolicyArns)).toContain('policy/AmazonEKSClusterPolicy');
    });
  });

  describe('launch-template.yaml', () => {
    test('user data is MIME multi-part with a nodeadm NodeConfig part and a shell script part', () => {
      const mime = parseMime(renderUserData());
      expect(mime.headers['mime-version']).toBe('1.0');
      expect(mime.headers['content-type']).toMatch(/^multipart\/mixed;/);
      expect(mime.parts.map((p) => p.headers['content-type'].split(';')[0])).toEqual([
        'application/node.eks.aws',
        'text/x-shellscript',
      ]);

      const nodeConfig = YAML.parse(mime.parts[0].body) as Dict;
      expect(nodeConfig).toMatchObject({
        apiVersion: 'node.eks.aws/v1alpha1',
        kind: 'NodeConfig',
        spec: {
          cluster: {
            name: CLUSTER.ClusterName,
            apiServerEndpoint: CLUSTER.ClusterEndpoint,
            certificateAuthority: CLUSTER.ClusterCertificateAuthority,
            cidr: '10.100.0.0/16',
          },
          // The default MultusInterfaceCount (2) ENI slots are left out of the pod budget.
          kubelet: { maxPodsExpression: '((default_enis - 2) * (ips_per_eni - 1)) + 2' },
        },
      });
      expect(((nodeConfig.spec as Dict).kubelet as Dict).config).toBeUndefined();

      const script = mime.parts[1].body;
      expect(script.startsWith('#!/bin/bash\n')).toBe(true);
      expect(script).toContain('export MULTUS_INTERFACE_COUNT=2\n');
      expect(script).toContain('export MULTUS_WAIT_TIMEOUT_SECONDS=300\n');
      expect(script).toContain(BEGIN_MARKER);
      expect(script).toContain(END_MARKER);
    });

    test('MaxPods, MultusInterfaceCount and NodeLabels reach the NodeConfig, after the labels EKS would have added', () => {
      const mime = parseMime(
        renderUserData({ MaxPods: '17', MultusInterfaceCount: '1', NodegroupName: 'multus-a', CapacityType: 'SPOT', NodeLabels: 'team=cnf,tier=edge' }),
      );
      const kubelet = ((YAML.parse(mime.parts[0].body) as Dict).spec as Dict).kubelet as Dict;
      expect(kubelet).toEqual({
        maxPodsExpression: '((default_enis - 1) * (ips_per_eni - 1)) + 2',
        config: { maxPods: 17 },
        flags: [
          '--node-labels=eks.amazonaws.com/nodegroup=multus-a,eks.amazonaws.com/capacityType=SPOT,eks.amazonaws.com/nodegroup-image=<resolved NodeImageId>,team=cnf,tier=edge',
        ],
      });
      expect(mime.parts[1].body).toContain('export MULTUS_INTERFACE_COUNT=1\n');
    });

    test('without a node group name: the capacity type and image labels only', () => {
      const kubelet = ((YAML.parse(parseMime(renderUserData()).parts[0].body) as Dict).spec as Dict).kubelet as Dict;
      expect(kubelet.flags).toEqual(['--node-labels=eks.amazonaws.com/capacityType=ON_DEMAND,eks.amazonaws.com/nodegroup-image=<resolved NodeImageId>']);
    });

    test('the AMI is one release\'s: its SSM parameter never changes value, so no later deploy makes a new launch template version', () => {
      const param = launch.Parameters!.NodeImageId;
      expect(param.Type).toBe('AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>');
      expect(String(param.Default)).toMatch(/^\/aws\/service\/eks\/optimized-ami\/1\.35\/amazon-linux-2023\/x86_64\/standard\/amazon-eks-node-al2023-x86_64-standard-1\.35-v\d{8}\/image_id$/);
      // No other SSM-typed parameter and no dynamic reference anywhere in the launch template.
      const ssmTyped = Object.entries(launch.Parameters ?? {}).filter(([, p]) => p.Type.startsWith('AWS::SSM::'));
      expect(ssmTyped.map(([n]) => n)).toEqual(['NodeImageId']);
      expect(launchSource).not.toMatch(/\{\{resolve:/);
      expect(launchSource).not.toMatch(/recommended\/image_id\s*$/m);
    });

    test('IMDSv2 with hop limit 2, the opt-in tag on instances, the AMI named so EKS does not merge user data', () => {
      const { resources, outputs } = evaluateAll(scopeFor(launch, { ...CLUSTER, KeyName: '' }));
      const data = resources.NodeLaunchTemplate.LaunchTemplateData as Dict;
      expect(data.MetadataOptions).toMatchObject({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
      const instanceTags = (data.TagSpecifications as { ResourceType: string; Tags: { Key: string; Value: string }[] }[]).find(
        (t) => t.ResourceType === 'instance',
      );
      expect(instanceTags?.Tags).toContainEqual({ Key: 'multus-ng', Value: 'true' });
      expect(data.ImageId).toBe('<resolved NodeImageId>');
      expect(data.KeyName).toBeUndefined();
      expect(Object.keys(outputs).sort()).toEqual(['LaunchTemplateId', 'LaunchTemplateLatestVersion']);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// The boot step.

const hasShellcheck = spawnSync('shellcheck', ['--version']).status === 0;
if (!hasShellcheck) {
  console.warn('nested-templates.test.ts: shellcheck is not installed; the shellcheck test is SKIPPED (apt-get install -y shellcheck).');
}

describe('multus-wait boot step', () => {
  let work: string;
  let scriptPath: string;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'multus-wait-'));
    scriptPath = join(work, 'multus-wait.sh');
    writeFileSync(scriptPath, extractBootScript());
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  test('passes bash -n', () => {
    const result = spawnSync('bash', ['-n', scriptPath], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  (hasShellcheck ? test : test.skip)('passes shellcheck', () => {
    const result = spawnSync('shellcheck', ['--shell=bash', scriptPath], { encoding: 'utf8' });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  // -- fake instance metadata service and command stubs ------------------------------------

  const TOKEN = 'fake-imds-token';
  const PRIMARY = { mac: '0a:00:00:00:00:01', device: 0, ifname: 'ens5' };
  const MULTUS_1 = { mac: '0a:00:00:00:01:01', device: 1, ifname: 'ens6' };
  const MULTUS_2 = { mac: '0a:00:00:00:02:02', device: 2, ifname: 'ens7' };
  type Nic = typeof PRIMARY;

  interface FakeImds {
    url: string;
    tokenRequests: number;
    rejected: number;
    close(): Promise<void>;
  }

  /** Serves IMDSv2 for `visible()` interfaces, and `/fake/ip-link` for the `ip` stub. */
  async function startFakeImds(visible: () => Nic[]): Promise<FakeImds> {
    const state = { tokenRequests: 0, rejected: 0 };
    const handle = (req: IncomingMessage, res: ServerResponse) => {
      const reply = (status: number, body = '') => {
        res.writeHead(status, { 'content-type': 'text/plain' });
        res.end(body);
      };
      const url = req.url ?? '';
      if (url === '/fake/ip-link') {
        const lines = [
          '1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\\    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00',
          ...visible().map(
            (n, i) =>
              `${i + 2}: ${n.ifname}: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 9001 qdisc mq state UP mode DEFAULT group default qlen 1000\\    link/ether ${n.mac} brd ff:ff:ff:ff:ff:ff`,
          ),
        ];
        return reply(200, lines.join('\n') + '\n');
      }
      if (req.method === 'PUT' && url === '/latest/api/token') {
        if (req.headers['x-aws-ec2-metadata-token-ttl-seconds'] === undefined) return reply(400);
        state.tokenRequests++;
        return reply(200, TOKEN);
      }
      if (req.method !== 'GET' || !url.startsWith('/latest/meta-data/')) return reply(404);
      if (req.headers['x-aws-ec2-metadata-token'] !== TOKEN) {
        state.rejected++;
        return reply(401);
      }
      const path = url.slice('/latest/meta-data/'.length);
      const nics = visible();
      if (path === 'network/interfaces/macs/') return reply(200, nics.map((n) => `${n.mac}/`).join('\n'));
      const match = /^network\/interfaces\/macs\/([0-9a-f:]+)\/device-number$/.exec(path);
      const nic = nics.find((n) => n.mac === match?.[1]);
      if (nic !== undefined) return reply(200, String(nic.device));
      return reply(404);
    };
    const server: Server = createServer(handle);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return {
      url: `http://127.0.0.1:${port}`,
      get tokenRequests() {
        return state.tokenRequests;
      },
      get rejected() {
        return state.rejected;
      },
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  }

  interface Run {
    code: number | null;
    output: string;
    elapsedMs: number;
    networkdDir: string;
    sysctlDir: string;
    commands: string[];
  }

  /** Runs the extracted script with bash; stubs log every call to commands.log. */
  async function runBootStep(imds: FakeImds, env: Record<string, string>): Promise<Run> {
    const dir = mkdtempSync(join(work, 'run-'));
    const bin = join(dir, 'bin');
    const log = join(dir, 'commands.log');
    const networkdDir = join(dir, 'network');
    const sysctlDir = join(dir, 'sysctl.d');
    spawnSync('mkdir', ['-p', bin]);
    const stub = (name: string, body = '') => {
      const path = join(bin, name);
      writeFileSync(path, `#!/bin/sh\necho "${name} $*" >> "$FAKE_COMMAND_LOG"\n${body}\nexit 0\n`);
      chmodSync(path, 0o755);
    };
    stub('ip', 'if [ "$1" = "-o" ] && [ "$2" = "link" ]; then curl -sf "$FAKE_IMDS_URL/fake/ip-link"; fi');
    stub('sysctl');
    stub('networkctl');

    const started = Date.now();
    const child = spawn('bash', [scriptPath], {
      env: {
        ...process.env,
        PATH: `${bin}:${process.env.PATH ?? ''}`,
        FAKE_COMMAND_LOG: log,
        FAKE_IMDS_URL: imds.url,
        MULTUS_IMDS_ENDPOINT: imds.url,
        MULTUS_NETWORKD_DIR: networkdDir,
        MULTUS_SYSCTL_DIR: sysctlDir,
        MULTUS_POLL_INTERVAL_SECONDS: '0.2',
        ...env,
      },
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => {
      const guard = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.on('close', (status) => {
        clearTimeout(guard);
        resolve(status);
      });
    });
    const commands = existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
    return { code, output, elapsedMs: Date.now() - started, networkdDir, sysctlDir, commands };
  }

  function networkFiles(dir: string): Record<string, string> {
    if (!existsSync(dir)) return {};
    return Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
  }

  test('waits for both multus interfaces (one appears after ~1 s), configures them without a default route, exits 0', async () => {
    const start = Date.now();
    const imds = await startFakeImds(() => (Date.now() - start >= 1000 ? [PRIMARY, MULTUS_1, MULTUS_2] : [PRIMARY, MULTUS_1]));
    try {
      const run = await runBootStep(imds, { MULTUS_INTERFACE_COUNT: '2', MULTUS_WAIT_TIMEOUT_SECONDS: '15' });

      expect(run.code).toBe(0);
      expect(run.elapsedMs).toBeGreaterThanOrEqual(900); // it waited for the late interface
      expect(run.output).toContain('all 2 multus interface(s) configured');
      expect(imds.tokenRequests).toBeGreaterThan(0); // IMDSv2 session tokens
      expect(imds.rejected).toBe(0); // never a metadata read without a token

      const files = networkFiles(run.networkdDir);
      expect(Object.keys(files).sort()).toEqual(['10-eks-multus-eni-device-1.network', '10-eks-multus-eni-device-2.network']);
      for (const [nic, file] of [
        [MULTUS_1, files['10-eks-multus-eni-device-1.network']],
        [MULTUS_2, files['10-eks-multus-eni-device-2.network']],
      ] as const) {
        expect(file).toMatch(new RegExp(`^PermanentMACAddress=${nic.mac}$`, 'm'));
        expect(file).toMatch(/^DHCP=ipv4$/m);
        // This file wins over the AMI's (first match), so it must set EC2's jumbo MTU itself.
        expect(file).toMatch(/^\[Link\]\n(?:.*\n)*?MTUBytes=9001$/m);
        expect(file).toMatch(/^UseRoutes=false$/m);
        expect(file).toMatch(/^UseGateway=false$/m);
        expect(file).toMatch(/^UseDNS=false$/m);
        expect(file).not.toMatch(/^\[Route\]/m);
        expect(file).not.toMatch(/^Gateway=/m);
      }
      expect(Object.values(files).join('\n')).not.toContain(PRIMARY.mac);

      expect(run.commands).toContain('sysctl -q -w net.ipv4.conf.ens6.rp_filter=2');
      expect(run.commands).toContain('sysctl -q -w net.ipv4.conf.ens7.rp_filter=2');
      expect(run.commands.some((c) => c.includes(`conf.${PRIMARY.ifname}.`))).toBe(false);
      expect(readFileSync(join(run.sysctlDir, '90-eks-multus-eni.conf'), 'utf8')).toBe(
        'net.ipv4.conf.ens6.rp_filter = 2\nnet.ipv4.conf.ens7.rp_filter = 2\n',
      );
      expect(run.commands.filter((c) => c.startsWith('networkctl'))).toEqual(['networkctl reload']);
    } finally {
      await imds.close();
    }
  }, 30_000);

  test('an interface that never appears: configures the ones present, names the missing one, exits 1 after the timeout', async () => {
    const imds = await startFakeImds(() => [PRIMARY, MULTUS_1]);
    try {
      const run = await runBootStep(imds, { MULTUS_INTERFACE_COUNT: '2', MULTUS_WAIT_TIMEOUT_SECONDS: '2' });

      expect(run.code).toBe(1);
      expect(run.elapsedMs).toBeGreaterThanOrEqual(2000);
      expect(run.elapsedMs).toBeLessThan(10_000);
      expect(run.output).toMatch(/timed out after 2s: device index 2: no interface in instance metadata/);
      expect(run.output).toContain('1 of 2 missing');
      expect(Object.keys(networkFiles(run.networkdDir))).toEqual(['10-eks-multus-eni-device-1.network']);
      expect(run.commands).toContain('sysctl -q -w net.ipv4.conf.ens6.rp_filter=2');
      expect(run.commands).toContain('networkctl reload');
    } finally {
      await imds.close();
    }
  }, 30_000);

  test('MULTUS_INTERFACE_COUNT=0: nothing to wait for, exits 0 at once', async () => {
    const imds = await startFakeImds(() => [PRIMARY]);
    try {
      const run = await runBootStep(imds, { MULTUS_INTERFACE_COUNT: '0' });
      expect(run.code).toBe(0);
      expect(run.commands).toEqual([]);
      expect(networkFiles(run.networkdDir)).toEqual({});
    } finally {
      await imds.close();
    }
  }, 30_000);
});
