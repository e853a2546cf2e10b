/**
 * The nested CloudFormation templates (nested/infra.yaml, nested/launch-template.yaml) and the
 * node boot step embedded in the launch template's user data.
 *
 * Template checks parse the YAML with the CloudFormation short-form tags and evaluate intrinsic
 * functions with a small evaluator (tests/support/cfn-eval.ts: parameters, conditions,
 * Ref/GetAtt/Sub/If/Join/Split/Select), so that every combination of the condition parameters is
 * checked for references to resources the conditions leave out, the AZs the subnets get are read
 * as CloudFormation would send them, and the launch template's user data is rendered and read back
 * as MIME.
 *
 * The user data's shell script (the node agent's install, copied from node-agent/ by
 * `npm run embed-agent`, and the boot step) is rendered from the template and run with bash under
 * a temporary root (MULTUS_ROOT), with stand-ins for systemctl and udevadm: what it installs, the
 * nodeadm drop-in with the eks-multus-eni/ready label, the exit status. The agent itself is tested
 * for real in network namespaces (tests/node-agent). No emulator and no AWS: nothing here talks to EC2.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { parseTemplate } from '../../scripts/lib/template';
import { AGENT_FILES, embed, installedText, installScript, unpackInstall } from '../../scripts/embed-agent';
import { nodeUserData } from '../../scripts/node-user-data';
import { evaluateAll, scopeFor } from '../support/cfn-eval';
import { findShellcheck } from '../support/shellcheck';

const NESTED = join(__dirname, '..', '..', 'nested');
const INFRA_PATH = join(NESTED, 'infra.yaml');
const LAUNCH_TEMPLATE_PATH = join(NESTED, 'launch-template.yaml');

type Dict = Record<string, unknown>;

const infraSource = readFileSync(INFRA_PATH, 'utf8');
const launchSource = readFileSync(LAUNCH_TEMPLATE_PATH, 'utf8');
const infra = parseTemplate(infraSource);
const launch = parseTemplate(launchSource);

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

    test.each(['10.0.0.0/16', '172.31.0.0/16'])('VpcCidr=%s: MultusCidr holds every multus subnet and no other subnet (the pods\' routes by their multus interface)', (vpc) => {
      const params = { AzCount: '3', MultusSubnetsPerAz: '2', NatGatewayMode: 'Single', VpcCidr: vpc };
      const { resources, outputs } = evaluateAll(scopeFor(infra, params, { attributes: { 'Vpc.CidrBlock': vpc } }));
      const toInt = (a: string) => a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
      const range = (c: string) => {
        const [a, bits] = c.split('/');
        return [toInt(a), toInt(a) + 2 ** (32 - Number(bits)) - 1];
      };
      const [lo, hi] = range(String(outputs.MultusCidr));
      expect(String(outputs.MultusCidr)).toBe(vpc.replace(/\.0\.0\/16$/, '.128.0/21'));
      const subnets = Object.entries(resources).filter(([name]) => infra.Resources[name].Type === 'AWS::EC2::Subnet');
      expect(subnets).toHaveLength(3 + 3 + 6);
      for (const [name, props] of subnets) {
        const [first, last] = range(String(props.CidrBlock));
        const multus = ((props.Tags ?? []) as { Key: string; Value: string }[]).some((t) => t.Key === 'eks-multus-eni/multus-subnet');
        expect({ name, cidr: props.CidrBlock, inside: first >= lo && last <= hi }).toEqual({ name, cidr: props.CidrBlock, inside: multus });
      }
    });

    describe('the AZs: the region\'s first ones, or named by AZ name or AZ ID', () => {
      const subnets = Object.keys(infra.Resources).filter((n) => infra.Resources[n].Type === 'AWS::EC2::Subnet');
      /** Each subnet's AZ properties, by the AZ rank its name carries (PublicSubnet2, MultusSubnetAz2First: 2). */
      const zonesOf = (params: Record<string, string>) => {
        const { resources, outputs } = evaluateAll(scopeFor(infra, params, { azs: ['us-east-1a', 'us-east-1b', 'us-east-1c', 'us-east-1d'] }));
        const byRank = new Map<string, unknown[]>();
        for (const name of subnets.filter((n) => n in resources)) {
          const rank = /(\d)/.exec(name)![1];
          const { AvailabilityZone, AvailabilityZoneId } = resources[name];
          byRank.set(rank, [...(byRank.get(rank) ?? []), { AvailabilityZone, AvailabilityZoneId }]);
        }
        return { byRank: Object.fromEntries([...byRank].map(([rank, zones]) => [rank, [...new Set(zones.map((z) => JSON.stringify(z)))].map((z) => JSON.parse(z))])), outputs };
      };

      test('none named: every subnet of AZ n gets AvailabilityZone = Fn::GetAZs\' n-th and no AvailabilityZoneId, as before (both replace a subnet when they change)', () => {
        const { byRank } = zonesOf({ AzCount: '3' });
        expect(byRank).toEqual({
          '1': [{ AvailabilityZone: 'us-east-1a' }],
          '2': [{ AvailabilityZone: 'us-east-1b' }],
          '3': [{ AvailabilityZone: 'us-east-1c' }],
        });
        // Every resource resolves exactly as with the plain `!Select [n, !GetAZs ""]` the template had
        // before the AZ parameters: a deployed stack's subnets stay.
        let replaced = 0;
        const plain = infraSource.replace(/AvailabilityZone: !If \[Az\dById, !Ref AWS::NoValue, !If \[Az\dGiven, !Ref AvailabilityZone\d, (!Select \[\d, !GetAZs ""\])\]\]\n\s+AvailabilityZoneId: .*\n/g, (_, select: string) => {
          replaced++;
          return `AvailabilityZone: ${select}\n`;
        });
        expect(replaced).toBe(subnets.length);
        const params = { AzCount: '3', MultusSubnetsPerAz: '2', NatGatewayMode: 'PerAz' };
        expect(evaluateAll(scopeFor(infra, params)).resources).toEqual(evaluateAll(scopeFor(parseTemplate(plain), params)).resources);
      });

      test('named by AZ name: AvailabilityZone is the name', () => {
        expect(zonesOf({ AvailabilityZone1: 'us-east-1d', AvailabilityZone2: 'us-east-1a' }).byRank).toEqual({
          '1': [{ AvailabilityZone: 'us-east-1d' }],
          '2': [{ AvailabilityZone: 'us-east-1a' }],
        });
      });

      test('named by AZ ID: AvailabilityZoneId is the ID and AvailabilityZone is left out; names and IDs may mix', () => {
        expect(zonesOf({ AzCount: '3', AvailabilityZone1: 'use1-az1', AvailabilityZone2: 'use1-az6', AvailabilityZone3: 'us-east-1c' }).byRank).toEqual({
          '1': [{ AvailabilityZoneId: 'use1-az1' }],
          '2': [{ AvailabilityZoneId: 'use1-az6' }],
          '3': [{ AvailabilityZone: 'us-east-1c' }],
        });
      });

      test('the AZ names the SSM settings and outputs use are the subnets\' AvailabilityZone attribute, however the AZ was given', () => {
        const cases: Record<string, string>[] = [{}, { AvailabilityZone1: 'use1-az1', AvailabilityZone2: 'use1-az2' }, { AvailabilityZone1: 'us-east-1b', AvailabilityZone2: 'us-east-1a' }];
        for (const params of cases) {
          const { outputs } = zonesOf(params);
          expect({ params, az1: outputs.Az1Name, az2: outputs.Az2Name }).toEqual({
            params,
            az1: '<MultusSubnetAz1First.AvailabilityZone>',
            az2: '<MultusSubnetAz2First.AvailabilityZone>',
          });
        }
      });

      test.each([
        ['us-east-1a', true],
        ['ap-southeast-2c', true],
        ['us-gov-west-1a', true],
        ['use1-az1', true],
        ['apse2-az3', true],
        ['usgw1-az1', true],
        ['', true],
        ['us-east-1-bos-1a', false], // a Local Zone: no EKS control plane there
        ['use1-bos1-az1', false],
        ['us-east-1', false],
        ['us-east-1a,us-east-1b', false],
        ['US-EAST-1A', false],
        ['use1-az', false],
      ])('AvailabilityZone1 %j is accepted: %s', (value, accepted) => {
        const pattern = new RegExp(String((infra.Parameters!.AvailabilityZone1 as { AllowedPattern?: string }).AllowedPattern));
        expect(pattern.test(value)).toBe(accepted);
        for (const name of ['AvailabilityZone2', 'AvailabilityZone3']) {
          expect((infra.Parameters![name] as { AllowedPattern?: string }).AllowedPattern).toBe(pattern.source);
        }
      });
    });

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
      expect(script).toContain('\nMULTUS_INTERFACE_COUNT=2\nMULTUS_WAIT_TIMEOUT_SECONDS=300\n');
      expect(script).toContain('"$root/usr/local/bin/eks-multus-eni-agent" wait');
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
      expect(mime.parts[1].body).toContain('\nMULTUS_INTERFACE_COUNT=1\n');
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
// The user data's shell script: the node agent's install and the boot step.

/** A node-agent/ file as the node gets it. */
const asInstalled = (source: string) => installedText(source, readFileSync(join(__dirname, '..', '..', 'node-agent', source), 'utf8'));

/** The shell script part of the rendered user data. */
function userDataScript(overrides: Record<string, string> = {}): string {
  const script = parseMime(renderUserData(overrides)).parts.find((p) => p.headers['content-type'].startsWith('text/x-shellscript'));
  if (!script) throw new Error('no shell script part in the user data');
  return script.body;
}

describe('user data: the node agent and the boot step', () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'eks-multus-eni-userdata-'));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  test('carries node-agent/ exactly as it is (npm run embed-agent); the run below installs byte-identical files', () => {
    expect(embed(launchSource)).toBe(launchSource);
    const install = unpackInstall(userDataScript());
    expect(install).toBe(installScript());
    for (const { source } of AGENT_FILES) {
      expect({ source, embedded: install.includes(asInstalled(source).replace(/\n$/, '')) }).toEqual({ source, embedded: true });
    }
  });

  test('the agent goes to the node without its comment lines, but the text of its here-documents and a line after a continued one', () => {
    // each line of an agent, and whether the node's copy keeps it
    const lines: [string, boolean][] = [
      ['#!/usr/bin/env bash', true],
      ['# header 1', true],
      ['# header 2', true],
      ['# a comment', false],
      ['f() {', true],
      ['  # indented comment', false],
      ['  cat <<EOF >"$1"', true],
      ['# written text', true],
      ['EOF', true],
      ["  cat <<-'END' | sort", true],
      ['\t# text too', true],
      ['\tEND', true],
      ['  x=$((1 << 24))', true],
      ['  echo a \\', true],
      ['  # kept: stripping it would join the next line to the echo', true],
      ['  echo b', true],
      ['  echo c \\\\', true],
      ['  # an escaped backslash ends the line: stripped', false],
      ['}', true],
    ];
    const kept = lines.filter(([, keep]) => keep).map(([line]) => line);

    expect(installedText('eks-multus-eni-agent', lines.map(([line]) => line).join('\n')).split('\n')).toEqual([
      ...kept.slice(0, 3),
      '# (installed without its comment lines: the commented source is node-agent/eks-multus-eni-agent in eks-multus-eni)',
      ...kept.slice(3),
    ]);
    expect(() => installedText('eks-multus-eni-agent', 'a\nb\nc\ncat <<EOF\nno end')).toThrow('the here-document EOF never ends');
    expect(installedText('eks-multus-eni-agent@.service', '# kept\n')).toBe('# kept\n');
  });

  test('stays under EC2\'s 16 KB of user data, with 2 KiB left for what a node group or Karpenter merges in', () => {
    const worst = renderUserData({ MaxPods: '110', NodeLabels: 'team=cnf,tier=edge', NodegroupName: 'x'.repeat(63), MultusInterfaceCount: '15', WaitTimeoutSeconds: '3600' });
    expect(Buffer.byteLength(worst, 'utf8')).toBeLessThan(16 * 1024 - 2 * 1024);
  });

  test('npm run node-user-data prints the same script, rendered with the same values, as its own MIME document (for Karpenter and self-managed nodes)', () => {
    const values = { MultusInterfaceCount: '3', WaitTimeoutSeconds: '120', MultusCniConfDir: '/etc/cni/custom.d', MultusPodRoutes: 'vpc,192.168.0.0/16' };
    const printed = parseMime(nodeUserData({ interfaces: 3, waitSeconds: 120, cniConfDir: '/etc/cni/custom.d', podRoutes: 'vpc,192.168.0.0/16' }));

    expect(printed.headers['mime-version']).toBe('1.0');
    expect(printed.parts.map((p) => p.headers['content-type'].split(';')[0])).toEqual(['text/x-shellscript']);
    expect(printed.parts[0].body.trimEnd()).toBe(userDataScript(values).trimEnd());
    expect(printed.parts[0].body).toContain('MULTUS_INTERFACE_COUNT=3\nMULTUS_WAIT_TIMEOUT_SECONDS=120\nMULTUS_CNI_CONF_DIR=/etc/cni/custom.d\nMULTUS_POD_ROUTES=vpc,192.168.0.0/16\n');
  });

  test('the Karpenter manifest of docs/karpenter.md, run with bash as written (kubectl apply replaced by a file): an EC2NodeClass whose userData is that output and whose tags opt the node in', () => {
    const section = readFileSync(join(__dirname, '..', '..', 'docs', 'karpenter.md'), 'utf8');
    const snippet = /```sh\n(CLUSTER=[\s\S]*?\nMANIFEST)\n```/.exec(section)?.[1];
    expect(snippet).toContain('kubectl apply -f - <<MANIFEST');
    const out = join(work, 'karpenter.yaml');
    const result = spawnSync('bash', ['-euo', 'pipefail', '-c', snippet!.replace('kubectl apply -f -', `cat >${out}`)], { cwd: join(__dirname, '..', '..'), encoding: 'utf8', timeout: 60_000 });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);

    const [nodeClass, nodePool] = YAML.parseAllDocuments(readFileSync(out, 'utf8')).map((d) => d.toJS() as Dict);
    expect([nodeClass.kind, nodePool.kind]).toEqual(['EC2NodeClass', 'NodePool']);
    const spec = nodeClass.spec as Dict;
    expect(spec.userData).toBe(nodeUserData({ interfaces: 2, waitSeconds: 300, cniConfDir: '/etc/cni/multus/net.d' }));
    expect(spec.tags).toEqual({ [String((launch.Parameters?.NodeTagKey as Dict).Default)]: 'true' });
  }, 60_000);

  test('passes bash -n', () => {
    const path = join(work, 'syntax.sh');
    writeFileSync(path, userDataScript());
    const result = spawnSync('bash', ['-n', path], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  test('passes shellcheck, and so does the packed script that installs the agent', () => {
    for (const [name, text] of [['check.sh', userDataScript()], ['install.sh', installScript()]]) {
      const path = join(work, name);
      writeFileSync(path, text);
      const result = spawnSync(findShellcheck(), ['--shell=bash', path], { encoding: 'utf8' });
      expect({ name, output: result.stdout + result.stderr }).toEqual({ name, output: '' });
      expect(result.status).toBe(0);
    }
  });

  interface Run {
    code: number | null;
    output: string;
    root: string;
    commands: string[];
  }

  /** Runs the rendered script under a fresh root with stand-ins for systemctl and udevadm. */
  function runScript(overrides: Record<string, string>, env: Record<string, string> = {}): Run {
    const dir = mkdtempSync(join(work, 'run-'));
    const root = join(dir, 'root');
    const log = join(dir, 'commands.log');
    const stub = (name: string) => {
      const path = join(dir, name);
      writeFileSync(path, `#!/bin/sh\necho "${name} $*" >> "${log}"\n`);
      chmodSync(path, 0o755);
      return path;
    };
    const script = join(dir, 'user-data.sh');
    writeFileSync(script, userDataScript(overrides));
    const result = spawnSync('bash', [script], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', MULTUS_ROOT: root, MULTUS_SYSTEMCTL: stub('systemctl'), MULTUS_UDEVADM: stub('udevadm'), ...env },
    });
    const commands = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [];
    return { code: result.status, output: result.stdout + result.stderr, root, commands };
  }

  test('installs the agent, its units and udev rule, reloads udev and systemd, starts the timer; ready=true when every interface is there', () => {
    const run = runScript({ MultusInterfaceCount: '0' });

    expect(run.output).toContain('eks-multus-eni: node labelled eks-multus-eni/ready=true');
    expect(run.code).toBe(0);
    for (const { source, target, mode } of AGENT_FILES) {
      const installed = join(run.root, target);
      expect({ target, same: readFileSync(installed, 'utf8') === asInstalled(source) }).toEqual({ target, same: true });
      expect({ target, mode: (statSync(installed).mode & 0o777).toString(8) }).toEqual({ target, mode });
    }
    expect(readFileSync(join(run.root, 'etc/eks-multus-eni/agent.env'), 'utf8')).toBe(
      'MULTUS_INTERFACE_COUNT=0\nMULTUS_WAIT_TIMEOUT_SECONDS=300\nMULTUS_CNI_CONF_DIR=/etc/cni/multus/net.d\nMULTUS_POD_ROUTES=vpc\n',
    );
    expect(run.commands).toEqual(['udevadm control --reload', 'systemctl daemon-reload', 'systemctl enable --now eks-multus-eni-agent-sync.timer']);
    // A nodeadm drop-in: nodeadm-run (after cloud-final, which runs this script) merges it into kubelet's flags.
    const dropIn = YAML.parse(readFileSync(join(run.root, 'etc/eks/nodeadm.d/90-eks-multus-eni.yaml'), 'utf8')) as Dict;
    expect(dropIn).toEqual({ apiVersion: 'node.eks.aws/v1alpha1', kind: 'NodeConfig', spec: { kubelet: { flags: ['--node-labels=eks-multus-eni/ready=true'] } } });
  });

  test('an interface that never comes: the node is labelled ready=false, the script fails after the timeout, naming the device index', () => {
    // Nothing listens on this port: instance metadata is unreachable, so device index 1 never shows.
    const run = runScript({ MultusInterfaceCount: '1', WaitTimeoutSeconds: '10' }, { MULTUS_IMDS_ENDPOINT: 'http://127.0.0.1:9', MULTUS_POLL_INTERVAL_SECONDS: '1' });

    expect(run.code).toBe(1);
    expect(run.output).toMatch(/eks-multus-eni: timed out after 10s: device index 1/);
    expect(run.output).toContain('eks-multus-eni: node labelled eks-multus-eni/ready=false');
    expect(readFileSync(join(run.root, 'etc/eks/nodeadm.d/90-eks-multus-eni.yaml'), 'utf8')).toContain('--node-labels=eks-multus-eni/ready=false');
  }, 60_000);
});
