/**
 * The root template keeps its promises, checked on what we wrote and on what CloudFormation gets
 * after the SAM transform (cfn-lint's own SAM translator, scripts/lib/sam-transform.py):
 *  - cfn-lint clean, root (SAM transform included) and every nested template;
 *  - every function's role: no action wildcards, every mutating action scoped by resource or
 *    condition (create only with our tags in the request, attach only to opted-in instances,
 *    modify/delete only our ENIs, lifecycle calls only on the node group's Auto Scaling groups, SSM
 *    reads only under ConfigPath), no AWS managed policy slipped in by SAM;
 *  - the rule filters on our hook names and on the metadata the hook installer writes, retries, and
 *    dead-letters to our queue; every function has a log group with retention and an async
 *    invoke config with the dead-letter queue;
 *  - the custom resource, the nested stacks and the node group are wired as docs/architecture.md
 *    says: the size guard before the node group, carrying exactly its ScalingConfig and launch
 *    template version; the new VPC's AZs passed on and checked by the template's rules (evaluated
 *    here for parameter values, tests/support/cfn-eval.ts). The upgrade from earlier revisions:
 *    tests/unit/upgrade.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LAUNCH_UNSUCCESSFUL_DETAIL_TYPE, SETTING_NAMES } from 'multus-core';
import { SIZE_GUARD_TYPE } from 'multus-core/hooks';
import { samTransform } from '../../scripts/lib/sam-transform';
import { loadTemplate, type Dict, type Template } from '../../scripts/lib/template';
import { failedRules } from '../support/cfn-eval';
import { findTool } from '../support/moto';

const ROOT = join(__dirname, '..', '..');
const template = loadTemplate(join(ROOT, 'template.yaml'));
const resources = template.Resources;
const cfnLint = findTool('cfn-lint', ['--version']);
/** What CloudFormation gets: the SAM transform applied. */
const deployed: Template = samTransform(join(ROOT, 'template.yaml'), cfnLint);

interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

const CLUSTER = { 'Fn::If': ['CreatingInfrastructure', { 'Fn::GetAtt': ['Infrastructure', 'Outputs.ClusterName'] }, { Ref: 'ClusterName' }] };
const NODEGROUP = { 'Fn::If': ['CreatingInfrastructure', { 'Fn::GetAtt': ['MultusNodegroup', 'NodegroupName'] }, { Ref: 'NodegroupName' }] };
/**
 * The node group's name as the template derives it (NodegroupName is required without
 * CreateInfrastructure): what the hook installer's role names, since the size guard, served by the
 * installer, comes before the node group (a GetAtt of it would be a dependency cycle).
 */
const NODEGROUP_NAME = { 'Fn::If': ['HasNodegroupName', { Ref: 'NodegroupName' }, { 'Fn::Sub': '${AWS::StackName}-multus' }] };
/** The node group a function's role names. */
const nodegroupOf = (fn: string) => (fn === 'HookInstallerFunction' ? NODEGROUP_NAME : NODEGROUP);
const CONFIG_PATH = { 'Fn::If': ['DefaultConfigPath', { 'Fn::Sub': '/eks-multus-eni/${AWS::StackName}' }, { Ref: 'ConfigPath' }] };
const METADATA = { 'Fn::Sub': ['eks-multus-eni:${AWS::StackName}:${Cluster}/${Nodegroup}', { Cluster: CLUSTER, Nodegroup: NODEGROUP }] };
const DLQ_ARN = { 'Fn::GetAtt': ['LifecycleDeadLetterQueue', 'Arn'] };

const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const resourcesOf = (s: Statement) => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]);
const READ_ONLY = /^(ec2:(Describe|Get)|autoscaling:Describe|eks:Describe|ssm:GetParameter)/;
/** An ARN whose resource part is a whole resource type: `...:subnet/*`, `...:autoScalingGroupName/*`. */
const WHOLE_TYPE = /:([A-Za-z-]+)\/\*$/;

/** The ARN pattern of a Resource entry: the string itself, or the template string of its !Sub. */
function arnPattern(resource: unknown): string {
  if (typeof resource === 'string') return resource;
  const sub = (resource as { 'Fn::Sub'?: string | [string, Dict] })?.['Fn::Sub'];
  if (typeof sub === 'string') return sub;
  if (Array.isArray(sub)) return sub[0];
  return JSON.stringify(resource); // GetAtt/Ref of one resource of this template
}

/** A statement under a condition (`!If [C, statement, AWS::NoValue]`) counts as granted: it is, when C holds. */
function unconditional(statements: unknown[]): Statement[] {
  return statements.flatMap((s) => {
    const branches = (s as { 'Fn::If'?: [string, unknown, unknown] })['Fn::If'];
    if (!branches) return [s as Statement];
    return [branches[1], branches[2]].filter((b) => (b as { Ref?: string }).Ref !== 'AWS::NoValue') as Statement[];
  });
}

function documentStatements(doc: unknown): Statement[] {
  if (doc && typeof doc === 'object' && 'Fn::Sub' in doc) {
    // A JSON policy in a !Sub string (tag keys in condition keys): parse it with ${...} left in place.
    return (JSON.parse(String((doc as Dict)['Fn::Sub'])) as { Statement: Statement[] }).Statement;
  }
  return unconditional((doc as { Statement: unknown[] }).Statement);
}

interface RolePolicies {
  readonly statements: Statement[];
  /** Managed policy ARNs that are not policies of this template (an AWS managed policy, say). */
  readonly foreign: unknown[];
}

/** Every statement a role gets: its inline policies, its managed policies from this template, IAM policies naming it. */
function rolePolicies(tpl: Template, roleId: string): RolePolicies {
  const role = tpl.Resources[roleId];
  expect(role?.Type).toBe('AWS::IAM::Role');
  const props = role.Properties ?? {};
  const statements: Statement[] = [];
  const foreign: unknown[] = [];
  for (const policy of (props.Policies ?? []) as { PolicyDocument: unknown }[]) statements.push(...documentStatements(policy.PolicyDocument));
  for (const arn of (props.ManagedPolicyArns ?? []) as unknown[]) {
    const ref = (arn as { Ref?: string }).Ref;
    const managed = ref ? tpl.Resources[ref] : undefined;
    if (managed?.Type === 'AWS::IAM::ManagedPolicy') statements.push(...documentStatements(managed.Properties?.PolicyDocument));
    else foreign.push(arn);
  }
  for (const resource of Object.values(tpl.Resources)) {
    if (resource.Type === 'AWS::IAM::Policy' && JSON.stringify(resource.Properties?.Roles ?? []).includes(`"${roleId}"`)) {
      statements.push(...documentStatements(resource.Properties?.PolicyDocument));
    }
  }
  return { statements, foreign };
}

/** Function logical id to its role's logical id, for every Lambda function CloudFormation gets. */
function functionRoles(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [id, resource] of Object.entries(deployed.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const role = resource.Properties?.Role as { 'Fn::GetAtt'?: [string, string] };
    expect(role?.['Fn::GetAtt']?.[1]).toBe('Arn');
    out[id] = role['Fn::GetAtt']![0];
  }
  return out;
}

const roles = functionRoles();
const statementsOf = (fn: string) => rolePolicies(deployed, roles[fn]).statements;
const find = (fn: string, action: string) => statementsOf(fn).filter((s) => actions(s).includes(action));

test('cfn-lint is clean on the root template (SAM transform included) and every nested template', () => {
  const nested = readdirSync(join(ROOT, 'nested')).filter((f) => f.endsWith('.yaml')).map((f) => join('nested', f));
  const out = spawnSync(cfnLint, ['template.yaml', ...nested], { cwd: ROOT, encoding: 'utf8' });
  expect(`${out.stdout}${out.stderr}`.trim()).toBe('');
  expect(out.status).toBe(0);
});

test('the functions CloudFormation gets are the lifecycle function, the hook installer and the sweeper, each with its own role', () => {
  expect(roles).toEqual({
    LifecycleFunction: 'LifecycleFunctionRole',
    HookInstallerFunction: 'HookInstallerFunctionRole',
    SweeperFunction: 'SweeperFunctionRole',
  });
});

describe.each(Object.keys(roles))('IAM of %s', (fn) => {
  test('only this template\'s policies: no AWS managed policy (SAM would add AWSLambdaBasicExecutionRole to a generated role)', () => {
    expect(rolePolicies(deployed, roles[fn]).foreign).toEqual([]);
  });

  test('no action wildcards; every mutating action is scoped by resource or condition', () => {
    const statements = statementsOf(fn);
    expect(statements.length).toBeGreaterThan(0);
    for (const s of statements) {
      expect(s.Effect).toBe('Allow');
      for (const action of actions(s)) {
        // Letters and digits only (ec2:AssignIpv6Addresses): no wildcard.
        expect(action).toMatch(/^[a-z0-9-]+:[A-Za-z][A-Za-z0-9]*$/);
        if (READ_ONLY.test(action)) continue;
        for (const resource of resourcesOf(s)) {
          const where = { sid: s.Sid, action, resource };
          expect(where).not.toEqual(expect.objectContaining({ resource: '*' }));
          const wholeType = WHOLE_TYPE.exec(arnPattern(resource))?.[1];
          if (wholeType === undefined || s.Condition !== undefined) continue;
          // The one unconditioned whole-type grant: the subnet and security groups of CreateNetworkInterface.
          // EC2 authorizes every resource of the call, so the network-interface grant's tag condition still applies.
          expect({ ...where, wholeType }).toEqual({ ...where, action: 'ec2:CreateNetworkInterface', wholeType: expect.stringMatching(/^(subnet|security-group)$/) });
        }
      }
    }
  });

  test('creating an ENI requires our ownership and no_manage tags in the request; tags only at creation', () => {
    const onInterface = find(fn, 'ec2:CreateNetworkInterface').filter((s) => JSON.stringify(s.Resource).includes(':network-interface/'));
    expect(onInterface).toHaveLength(find(fn, 'ec2:CreateNetworkInterface').length > 0 ? 1 : 0);
    if (onInterface.length === 0) return;
    expect(onInterface[0].Condition).toEqual({
      StringLike: { 'aws:RequestTag/eks-multus-eni/instance-id': 'i-*' },
      StringEquals: { 'aws:RequestTag/node.k8s.amazonaws.com/no_manage': 'true' },
    });
    const tagging = find(fn, 'ec2:CreateTags');
    expect(tagging.map((s) => s.Condition)).toEqual([{ StringEquals: { 'ec2:CreateAction': 'CreateNetworkInterface' } }]);
    expect(find(fn, 'ec2:DeleteTags')).toEqual([]);
  });

  test('tags after creation: only the sweeper, only its grace-period key, only on our ENIs, never a keyless DeleteTags', () => {
    const retagging = statementsOf(fn).filter(
      (s) => actions(s).includes('ec2:DeleteTags') || (actions(s).includes('ec2:CreateTags') && JSON.stringify(s.Condition ?? {}).indexOf('ec2:CreateAction') < 0),
    );
    if (fn !== 'SweeperFunction') {
      expect(retagging).toEqual([]);
      return;
    }
    expect(retagging).toHaveLength(1);
    expect(actions(retagging[0]).sort()).toEqual(['ec2:CreateTags', 'ec2:DeleteTags']);
    expect(JSON.stringify(retagging[0].Resource)).toContain(':network-interface/*');
    expect(retagging[0].Condition).toEqual({
      StringLike: { 'aws:ResourceTag/eks-multus-eni/instance-id': 'i-*' },
      'ForAllValues:StringEquals': { 'aws:TagKeys': ['eks-multus-eni/orphan-since'] },
      Null: { 'aws:TagKeys': 'false' },
    });
  });

  test('modify, detach and delete only our ENIs; attach and detach only on instances carrying NodeTagKey', () => {
    for (const action of ['ec2:AttachNetworkInterface', 'ec2:DetachNetworkInterface', 'ec2:ModifyNetworkInterfaceAttribute', 'ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:AssignIpv6Addresses']) {
      for (const s of find(fn, action)) {
        const resource = JSON.stringify(s.Resource);
        if (resource.includes(':network-interface/')) {
          expect({ action, condition: s.Condition }).toEqual({ action, condition: { StringLike: { 'aws:ResourceTag/eks-multus-eni/instance-id': 'i-*' } } });
        } else {
          expect({ action, resource: s.Resource }).toEqual({ action, resource: expect.stringMatching(/:instance\/\*$/) });
          expect(['ec2:AttachNetworkInterface', 'ec2:DetachNetworkInterface', 'ec2:ModifyNetworkInterfaceAttribute']).toContain(action);
          expect(s.Condition).toEqual({ Null: { 'aws:ResourceTag/${NodeTagKey}': 'false' } });
        }
      }
    }
    // Attaching needs both grants: the ENI (ours) and the instance (opted in).
    expect([0, 2]).toContain(find(fn, 'ec2:AttachNetworkInterface').length);
  });

  test('SSM: reads only, only under ConfigPath', () => {
    const ssm = statementsOf(fn).filter((s) => actions(s).some((a) => a.startsWith('ssm:')));
    if (ssm.length === 0) return;
    expect(ssm.flatMap(actions)).toEqual(['ssm:GetParametersByPath']);
    expect(ssm[0].Resource).toEqual([
      { 'Fn::Sub': ['arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${Path}', { Path: CONFIG_PATH }] },
      { 'Fn::Sub': ['arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${Path}/*', { Path: CONFIG_PATH }] },
    ]);
  });

  test('logs only into its own log group, dead letters only into our queue', () => {
    const logGroup = (deployed.Resources[fn].Properties?.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
    const logs = statementsOf(fn).filter((s) => actions(s).some((a) => a.startsWith('logs:')));
    expect(logs.map((s) => [actions(s), s.Resource])).toEqual([[['logs:CreateLogStream', 'logs:PutLogEvents'], { 'Fn::GetAtt': [logGroup, 'Arn'] }]]);
    const sqs = statementsOf(fn).filter((s) => actions(s).some((a) => a.startsWith('sqs:')));
    expect(sqs.map((s) => [actions(s), s.Resource])).toEqual([[['sqs:SendMessage'], DLQ_ARN]]);
  });

  test('Auto Scaling changes only on the Auto Scaling groups EKS tags with our cluster and node group', () => {
    const mutating = statementsOf(fn).filter((s) => actions(s).some((a) => a.startsWith('autoscaling:') && !READ_ONLY.test(a)));
    for (const s of mutating) {
      expect(s.Resource).toEqual({ 'Fn::Sub': 'arn:${AWS::Partition}:autoscaling:${AWS::Region}:${AWS::AccountId}:autoScalingGroup:*:autoScalingGroupName/*' });
      expect(s.Condition).toEqual({ StringEquals: { 'aws:ResourceTag/eks:cluster-name': CLUSTER, 'aws:ResourceTag/eks:nodegroup-name': nodegroupOf(fn) } });
    }
  });
});

test('each function may do only its own lifecycle work: complete actions (lifecycle), put and delete hooks (installer), none (sweeper)', () => {
  const mutating = (fn: string) =>
    statementsOf(fn)
      .flatMap(actions)
      .filter((a) => (a.startsWith('autoscaling:') || a.startsWith('eks:')) && !READ_ONLY.test(a))
      .sort();
  expect(mutating('LifecycleFunction')).toEqual(['autoscaling:CompleteLifecycleAction', 'autoscaling:RecordLifecycleActionHeartbeat']);
  expect(mutating('HookInstallerFunction')).toEqual(['autoscaling:DeleteLifecycleHook', 'autoscaling:PutLifecycleHook', 'eks:UpdateNodegroupConfig']);
  expect(mutating('SweeperFunction')).toEqual([]);
  expect(find('LifecycleFunction', 'eks:DescribeNodegroup')).toEqual([]);
  expect(find('HookInstallerFunction', 'eks:DescribeNodegroup').map((s) => s.Resource)).toEqual([
    { 'Fn::Sub': ['arn:${AWS::Partition}:eks:${AWS::Region}:${AWS::AccountId}:nodegroup/${Cluster}/${Nodegroup}/*', { Cluster: CLUSTER, Nodegroup: NODEGROUP_NAME }] },
  ]);
});

describe('the EventBridge rules CloudFormation gets', () => {
  // Always there (the state-change rule, behind HooklessNodes, is checked below).
  const rules = Object.entries(deployed.Resources).filter(([, r]) => r.Type === 'AWS::Events::Rule' && r.Properties?.EventPattern && !r.Condition);
  const rule = (id: string) => rules.find(([ruleId]) => ruleId === id)![1];

  test('the only other rules are the sweeper\'s schedule and, behind HooklessNodes, the state-change rule', () => {
    expect(Object.entries(deployed.Resources).filter(([, r]) => r.Type === 'AWS::Events::Rule' && r.Condition).map(([id, r]) => [id, r.Condition])).toEqual([
      ['HooklessNodesRule', 'HandlingHooklessNodes'],
    ]);
    const schedules = Object.entries(deployed.Resources).filter(([, r]) => r.Type === 'AWS::Events::Rule' && !r.Properties?.EventPattern);
    expect(schedules.map(([, r]) => [r.Properties?.ScheduleExpression, (r.Properties?.Targets as { Arn: unknown }[])[0].Arn])).toEqual([
      [{ Ref: 'SweepSchedule' }, { 'Fn::GetAtt': ['SweeperFunction', 'Arn'] }],
    ]);
  });

  test('two: the lifecycle actions, and the unsuccessful launches of the node group', () => {
    expect(rules.map(([id]) => id).sort()).toEqual(['LifecycleFunctionLaunchUnsuccessful', 'LifecycleFunctionLifecycleAction']);
  });

  test('the lifecycle rule matches only lifecycle actions of our hook names carrying the metadata the hook installer writes', () => {
    expect(rule('LifecycleFunctionLifecycleAction').Properties?.EventPattern).toEqual({
      source: ['aws.autoscaling'],
      'detail-type': ['EC2 Instance-launch Lifecycle Action', 'EC2 Instance-terminate Lifecycle Action'],
      detail: { LifecycleHookName: [{ Ref: 'LaunchHookName' }, { Ref: 'TerminateHookName' }], NotificationMetadata: [METADATA] },
    });
    expect(resources.NodegroupLifecycleHooks.Properties?.NotificationMetadata).toEqual(METADATA);
    expect(resources.NodegroupLifecycleHooks.Properties).toMatchObject({ LaunchHookName: { Ref: 'LaunchHookName' }, TerminateHookName: { Ref: 'TerminateHookName' } });
  });

  test('the lifecycle rule targets the lifecycle function with a retry policy and our dead-letter queue (no queue of SAM\'s own)', () => {
    expect(rule('LifecycleFunctionLifecycleAction').Properties?.Targets).toEqual([
      {
        Id: expect.any(String),
        Arn: { 'Fn::GetAtt': ['LifecycleFunction', 'Arn'] },
        RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 3600 },
        DeadLetterConfig: { Arn: DLQ_ARN },
      },
    ]);
    const queues = Object.entries(deployed.Resources).filter(([, r]) => r.Type === 'AWS::SQS::Queue');
    // No queue of SAM's own: ours, shared with the state-change rule (behind HooklessNodes).
    expect(queues.map(([id]) => id)).toEqual(['LifecycleDeadLetterQueue']);
    const policy = resources.LifecycleDeadLetterQueuePolicy.Properties?.PolicyDocument as { Statement: Statement[] & { Principal?: unknown }[] };
    expect(policy.Statement).toEqual([
      expect.objectContaining({
        Principal: { Service: 'events.amazonaws.com' },
        Action: 'sqs:SendMessage',
        Resource: DLQ_ARN,
        Condition: {
          ArnEquals: {
            'aws:SourceArn': [
              { 'Fn::GetAtt': ['LifecycleFunctionLifecycleAction', 'Arn'] },
              { 'Fn::If': ['HandlingHooklessNodes', { 'Fn::GetAtt': ['HooklessNodesRule', 'Arn'] }, { Ref: 'AWS::NoValue' }] },
            ],
          },
        },
      }),
    ]);
  });

  test("the unsuccessful-launch rule: Auto Scaling's EC2 Instance Launch Unsuccessful of the node group's Auto Scaling groups only, to the lifecycle function", () => {
    const unsuccessful = rule('LifecycleFunctionLaunchUnsuccessful');
    expect(unsuccessful.Properties?.EventPattern).toEqual({
      source: ['aws.autoscaling'],
      'detail-type': [LAUNCH_UNSUCCESSFUL_DETAIL_TYPE],
      detail: { AutoScalingGroupName: { 'Fn::Split': [',', { 'Fn::GetAtt': ['NodegroupLifecycleHooks', 'AutoScalingGroupNames'] }] } },
    });
    expect(unsuccessful.Properties?.Targets).toEqual([
      { Id: expect.any(String), Arn: { 'Fn::GetAtt': ['LifecycleFunction', 'Arn'] }, RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 3600 } },
    ]);
  });
});

test('the lifecycle events of events/ are what the rule delivers (pattern matched) for a stack named eks-multus-eni on multus-cluster/multus-ng', () => {
  const rule = Object.values(deployed.Resources).find((r) => r.Type === 'AWS::Events::Rule' && JSON.stringify(r.Properties?.EventPattern ?? {}).includes('Lifecycle Action'));
  const pattern = rule!.Properties!.EventPattern as { source: string[]; 'detail-type': string[]; detail: { LifecycleHookName: unknown[]; NotificationMetadata: unknown[] } };
  const defaults = (name: string) => String(template.Parameters![name].Default);
  const hooks = [defaults('LaunchHookName'), defaults('TerminateHookName')];
  expect(pattern.detail.LifecycleHookName).toEqual([{ Ref: 'LaunchHookName' }, { Ref: 'TerminateHookName' }]);
  // The metadata the hook installer writes, for that stack, cluster and node group.
  const metadata = 'eks-multus-eni:eks-multus-eni:multus-cluster/multus-ng';
  expect(pattern.detail.NotificationMetadata).toEqual([METADATA]);
  for (const file of ['launch.json', 'terminate.json', 'warm-pool-launch.json']) {
    const event = JSON.parse(readFileSync(join(ROOT, 'events', file), 'utf8'));
    expect({ file, source: pattern.source.includes(event.source) }).toEqual({ file, source: true });
    expect({ file, type: pattern['detail-type'].includes(event['detail-type']) }).toEqual({ file, type: true });
    expect({ file, hook: hooks.includes(event.detail.LifecycleHookName) }).toEqual({ file, hook: true });
    expect({ file, metadata: event.detail.NotificationMetadata }).toEqual({ file, metadata });
  }
  const created = JSON.parse(readFileSync(join(ROOT, 'events', 'hook-installer-create.json'), 'utf8'));
  expect(created.ResourceProperties.NotificationMetadata).toBe(metadata);
});

describe.each(Object.keys(roles))('%s operations', (fn) => {
  test('has an explicit log group with retention', () => {
    const logGroup = (deployed.Resources[fn].Properties?.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
    expect(resources[logGroup].Type).toBe('AWS::Logs::LogGroup');
    expect(resources[logGroup].Properties?.RetentionInDays).toEqual({ Ref: 'LogRetentionDays' });
    expect(resources[logGroup].Properties?.LogGroupName).toEqual({ 'Fn::Sub': expect.stringMatching(/^\/aws\/lambda\/\$\{AWS::StackName\}-/) });
  });

  test('has an async event-invoke config sending failed invocations to the dead-letter queue', () => {
    const configs = Object.values(deployed.Resources).filter(
      (r) => r.Type === 'AWS::Lambda::EventInvokeConfig' && JSON.stringify(r.Properties?.FunctionName) === JSON.stringify({ Ref: fn }),
    );
    expect(configs).toHaveLength(1);
    expect(configs[0].Properties).toMatchObject({ DestinationConfig: { OnFailure: { Destination: DLQ_ARN } }, MaximumEventAgeInSeconds: 3600 });
  });

  test('runs nodejs22.x with the layer, the contract environment, and an esbuild bundle that keeps multus-core external', () => {
    const props = resources[fn].Properties as Dict;
    expect(template.Globals?.Function?.Runtime).toBe('nodejs22.x');
    expect(props.Layers).toEqual([{ Ref: 'MultusCoreLayer' }]);
    expect((props.Environment as { Variables: Dict }).Variables).toMatchObject(
      fn === 'SweeperFunction'
        ? { SWEEP_GRACE_MINUTES: { Ref: 'SweepGraceMinutes' }, SWEEP_DRY_RUN: { Ref: 'SweepDryRun' } }
        : { CONFIG_PATH: CONFIG_PATH, NODE_TAG_KEY: { Ref: 'NodeTagKey' }, POWERTOOLS_PARAMETERS_MAX_AGE: { Ref: 'CacheMaxAgeSeconds' } },
    );
    expect(resources[fn].Metadata).toMatchObject({ BuildMethod: 'esbuild', BuildProperties: { External: ['multus-core'], MainFields: 'module,main', Target: 'es2022' } });
  });
});

test('the lifecycle function may give our ENIs the IPv6 they lack (AssignIpv6Addresses), and only ours', () => {
  // The adapter calls AssignIpv6Addresses for /80 prefixes beside addresses (EC2 takes one IPv6 kind per create) and for an ENI in place.
  const grants = find('LifecycleFunction', 'ec2:AssignIpv6Addresses');
  expect(grants.map((s) => [JSON.stringify(s.Resource), s.Condition])).toEqual([
    [expect.stringContaining(':network-interface/*'), { StringLike: { 'aws:ResourceTag/eks-multus-eni/instance-id': 'i-*' } }],
  ]);
  expect(find('SweeperFunction', 'ec2:AssignIpv6Addresses')).toEqual([]);
});

test('the layer is built by its Makefile', () => {
  expect(resources.MultusCoreLayer.Metadata).toMatchObject({ BuildMethod: 'makefile' });
});

describe('the hook installer custom resource', () => {
  const hooks = resources.NodegroupLifecycleHooks;
  const props = hooks.Properties as Dict;

  test('is served by the hook installer, answers within its ServiceTimeout, never retried', () => {
    expect(props.ServiceToken).toEqual({ 'Fn::GetAtt': ['HookInstallerFunction', 'Arn'] });
    const timeout = (resources.HookInstallerFunction.Properties as Dict).Timeout as number;
    expect(props.ServiceTimeout).toBeGreaterThan(timeout);
    expect(props.ServiceTimeout).toBeLessThanOrEqual(3600);
    expect((resources.HookInstallerFunction.Properties as Dict).EventInvokeConfig).toMatchObject({ MaximumRetryAttempts: 0 });
  });

  test('targets the node group, with the hooks\' heartbeat and default result from parameters', () => {
    expect(props).toMatchObject({
      ClusterName: CLUSTER,
      NodegroupName: NODEGROUP,
      HeartbeatTimeout: { Ref: 'HookHeartbeatTimeout' },
      DefaultResult: { Ref: 'HookDefaultResult' },
    });
    expect(template.Parameters?.HookHeartbeatTimeout).toMatchObject({ MinValue: 30, MaxValue: 7200 });
    expect(template.Parameters?.HookDefaultResult?.AllowedValues).toEqual(['ABANDON', 'CONTINUE']);
  });

  test('events/size-guard-*.json are requests CloudFormation sends the size guard: its logical id, type and properties', () => {
    const guard = resources.NodegroupSizeGuard;
    for (const file of ['size-guard-update.json', 'size-guard-refused.json']) {
      const event = JSON.parse(readFileSync(join(ROOT, 'events', file), 'utf8'));
      expect({ file, id: event.LogicalResourceId, type: event.ResourceType }).toEqual({ file, id: 'NodegroupSizeGuard', type: guard.Type });
      for (const props of [event.ResourceProperties, event.OldResourceProperties]) {
        expect({ file, keys: Object.keys(props).sort() }).toEqual({ file, keys: Object.keys(guard.Properties ?? {}).sort() });
        expect(template.Parameters?.NodegroupSizesOwner?.AllowedValues).toContain(props.SizesOwner);
      }
    }
  });

  test('comes after the rule and every setting (and goes before them on delete)', () => {
    expect(hooks.DependsOn).toEqual(expect.arrayContaining(['LifecycleFunctionLifecycleAction', 'LifecycleFunctionLifecycleActionPermission']));
    const settings = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::SSM::Parameter');
    const refs = JSON.stringify(props.SettingsParameters);
    for (const [id, r] of settings) {
      const ordered = (hooks.DependsOn as string[]).includes(id) || (r.Condition !== undefined && refs.includes(`{"Ref":"${id}"}`));
      expect({ id, ordered }).toEqual({ id, ordered: true });
    }
  });
});

describe('settings written to SSM', () => {
  const parameters = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::SSM::Parameter');

  test('are exactly the contract\'s settings, under ConfigPath', () => {
    const names = parameters.map(([, r]) => {
      const sub = (r.Properties?.Name as { 'Fn::Sub': [string, Dict] })['Fn::Sub'];
      expect(sub[1].Path).toEqual(CONFIG_PATH);
      return sub[0].replace('${Path}/', '');
    });
    expect(names.sort()).toEqual(
      [
        'subnets/${Az}',
        'subnets/${Az}',
        'subnets/${Az}',
        SETTING_NAMES.securityGroups,
        SETTING_NAMES.useIpsFromStartOfSubnet,
        SETTING_NAMES.interfaceTags,
        SETTING_NAMES.sourceDestCheck,
        SETTING_NAMES.onFailure,
        SETTING_NAMES.ipv4PrefixesPerInterface,
        SETTING_NAMES.ipv6AddressesPerInterface,
        SETTING_NAMES.ipv6PrefixesPerInterface,
      ].sort(),
    );
  });

  test('take the new VPC\'s subnets and multus security group when the infrastructure is created', () => {
    for (const n of [1, 2, 3]) {
      const p = resources[`SubnetsAz${n}Parameter`];
      expect(p.Properties?.Value).toEqual({ 'Fn::If': ['CreatingInfrastructure', { 'Fn::GetAtt': ['Infrastructure', `Outputs.Az${n}MultusSubnetIds`] }, { Ref: `Az${n}Subnets` }] });
      expect((p.Properties?.Name as { 'Fn::Sub': [string, Dict] })['Fn::Sub'][1].Az).toEqual({
        'Fn::If': ['CreatingInfrastructure', { 'Fn::GetAtt': ['Infrastructure', `Outputs.Az${n}Name`] }, { Ref: `Az${n}Name` }],
      });
    }
    // AZ 3 exists with 3 new AZs, or with a given third AZ on an existing cluster.
    expect(template.Conditions?.HasAz3).toEqual({
      'Fn::Or': [{ Condition: 'InfraThreeAzs' }, { 'Fn::And': [{ Condition: 'UsingExistingCluster' }, { Condition: 'GivenAz3' }] }],
    });
    expect(resources.SecurityGroupsParameter.Properties?.Value).toEqual({
      'Fn::If': ['HasSecurityGroups', { Ref: 'SecurityGroupIds' }, { 'Fn::GetAtt': ['Infrastructure', 'Outputs.MultusSecurityGroupId'] }],
    });
  });
});

describe('nested stacks and the node group', () => {
  const nested = (file: string) => loadTemplate(join(ROOT, 'nested', file));
  const stacks: [string, string][] = [
    ['Infrastructure', 'infra.yaml'],
    ['NodeLaunchTemplate', 'launch-template.yaml'],
  ];

  test.each(stacks)('%s passes only parameters %s declares, and every one it requires', (id, file) => {
    const child = nested(file);
    const given = (resources[id].Properties?.Parameters ?? {}) as Dict;
    expect(resources[id].Properties?.Location).toBe(`nested/${file}`);
    expect(resources[id].Condition).toBe('CreatingInfrastructure');
    for (const name of Object.keys(given)) expect({ name, declared: name in (child.Parameters ?? {}) }).toEqual({ name, declared: true });
    for (const [name, p] of Object.entries(child.Parameters ?? {})) {
      if (p.Default === undefined) expect({ name, given: name in given }).toEqual({ name, given: true });
    }
  });

  test.each(stacks)('every output of %s the root template reads exists in %s', (id, file) => {
    const outputs = Object.keys(nested(file).Outputs ?? {});
    const used = [...JSON.stringify(template).matchAll(new RegExp(`\\["${id}","Outputs\\.([A-Za-z0-9]+)"\\]`, 'g'))].map((m) => m[1]);
    expect(used.length).toBeGreaterThan(0);
    for (const name of used) expect(outputs).toContain(name);
  });

  test('the launch template tags nodes with NodeTagKey and expects one multus ENI per multus subnet', () => {
    expect(resources.NodeLaunchTemplate.Properties?.Parameters).toMatchObject({
      NodeTagKey: { Ref: 'NodeTagKey' },
      MultusInterfaceCount: { Ref: 'InfraMultusSubnetsPerAz' },
      MultusPodRoutes: { 'Fn::GetAtt': ['Infrastructure', 'Outputs.MultusCidr'] },
    });
  });

  test('the AMI is the one of NodeAmiReleaseVersion: its SSM parameter is one release\'s, never .../recommended', () => {
    const image = (resources.NodeLaunchTemplate.Properties?.Parameters as Dict).NodeImageId as { 'Fn::Sub': string };
    expect(image['Fn::Sub']).toBe(
      '/aws/service/eks/optimized-ami/${KubernetesVersion}/amazon-linux-2023/x86_64/standard/amazon-eks-node-al2023-x86_64-standard-${KubernetesVersion}-${NodeAmiReleaseVersion}/image_id',
    );
    expect(template.Parameters?.NodeAmiReleaseVersion).toMatchObject({ Default: expect.stringMatching(/^v\d{8}$/) });
  });

  test('NodeAmiReleaseVersion takes releases from v20251023 on (the first whose nodeadm reads /etc/eks/nodeadm.d/, the ready label\'s drop-in), refused before anything is created', () => {
    const pattern = new RegExp(String((template.Parameters?.NodeAmiReleaseVersion as Dict).AllowedPattern));
    const taken = ['v20251023', 'v20251031', 'v20251101', 'v20251215', 'v20260101', 'v20260714', 'v20310930'];
    const refused = ['v20251022', 'v20251009', 'v20250930', 'v20241231', 'v20230101', '20260714', 'v2026071', 'v202607140', 'V20260714', ''];
    expect(taken.filter((v) => !pattern.test(v))).toEqual([]);
    expect(refused.filter((v) => pattern.test(v))).toEqual([]);
    expect(String((template.Parameters?.NodeAmiReleaseVersion as Dict).ConstraintDescription)).toContain('v20251023 or later');
  });

  test('an unrelated deploy makes no new launch template version: its inputs are parameters and the infrastructure\'s outputs only', () => {
    // Anything else (a resource attribute that changes on every update, a dynamic reference resolved
    // anew) would give the launch template a new version and EKS would replace every node.
    const given = JSON.stringify(resources.NodeLaunchTemplate.Properties?.Parameters);
    expect(given).not.toContain('{{resolve:');
    const refs = [...given.matchAll(/"Ref":"([^"]+)"/g)].map((m) => m[1]);
    for (const name of refs) expect({ name, parameter: name in (template.Parameters ?? {}) || name.startsWith('AWS::') }).toEqual({ name, parameter: true });
    const atts = [...given.matchAll(/"Fn::GetAtt":\["([^"]+)"/g)].map((m) => m[1]);
    expect(new Set(atts)).toEqual(new Set(['Infrastructure']));
    const subs = [...given.matchAll(/\$\{([A-Za-z0-9:]+)\}/g)].map((m) => m[1]);
    for (const name of subs) expect({ name, parameter: name in (template.Parameters ?? {}) || name.startsWith('AWS::') }).toEqual({ name, parameter: true });
  });

  test('the node group and its nodes\' eks.amazonaws.com/nodegroup label carry one name, derived from the stack when NodegroupName is empty', () => {
    const name = { 'Fn::If': ['HasNodegroupName', { Ref: 'NodegroupName' }, { 'Fn::Sub': '${AWS::StackName}-multus' }] };
    expect(resources.MultusNodegroup.Properties?.NodegroupName).toEqual(name);
    expect(resources.NodeLaunchTemplate.Properties?.Parameters).toMatchObject({ NodegroupName: name, CapacityType: resources.MultusNodegroup.Properties?.CapacityType });
  });

  test('the node group is created with no node and its sizes never change in the template: the hook installer sets them after the hooks', () => {
    // Constant unless NodegroupSizesOwner=Template: CloudFormation sends no sizes on any later update, so none resets them.
    const created = { MinSize: 0, DesiredSize: 0, MaxSize: 1 };
    const parameters = { MinSize: { Ref: 'NodegroupMinSize' }, DesiredSize: { Ref: 'NodegroupDesiredSize' }, MaxSize: { Ref: 'NodegroupMaxSize' } };
    expect(resources.MultusNodegroup.Properties?.ScalingConfig).toEqual({ 'Fn::If': ['SizesInTemplate', parameters, created] });
    expect(resources.NodegroupLifecycleHooks.Properties?.ScalingConfig).toEqual({ 'Fn::If': ['SizesByHookInstaller', parameters, { Ref: 'AWS::NoValue' }] });
    expect(template.Conditions?.SizesInTemplate).toEqual({ 'Fn::And': [{ Condition: 'CreatingInfrastructure' }, { 'Fn::Equals': [{ Ref: 'NodegroupSizesOwner' }, 'Template'] }] });
    expect(template.Conditions?.SizesByHookInstaller).toEqual({ 'Fn::And': [{ Condition: 'CreatingInfrastructure' }, { 'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'NodegroupSizesOwner' }, 'Template'] }] }] });
    expect(template.Parameters?.NodegroupSizesOwner).toMatchObject({ Default: '', AllowedValues: ['', 'HookInstaller', 'Template'] });
    // Whoever changes it is told what it does, at the value itself.
    const lines = readFileSync(join(ROOT, 'template.yaml'), 'utf8').split('\n');
    const at = lines.findIndex((l, i) => i > lines.indexOf('  MultusNodegroup:') && l === '      ScalingConfig: !If');
    const comment = lines.slice(at - 10, at).filter((l) => l.trim().startsWith('#')).join(' ');
    expect(comment).toContain('Keep this value as it is');
    expect(comment).toContain('NodegroupSizeGuard refuses');
    expect(comment).toContain('REVERT_DRIFT');
    // The installer may size only that node group.
    const sizing = find('HookInstallerFunction', 'eks:UpdateNodegroupConfig');
    expect(sizing.map((s) => s.Resource)).toEqual([
      [
        { 'Fn::Sub': ['arn:${AWS::Partition}:eks:${AWS::Region}:${AWS::AccountId}:nodegroup/${Cluster}/${Nodegroup}/*', { Cluster: { 'Fn::GetAtt': ['Infrastructure', 'Outputs.ClusterName'] }, Nodegroup: NODEGROUP_NAME }] },
        { 'Fn::Sub': ['arn:${AWS::Partition}:eks:${AWS::Region}:${AWS::AccountId}:cluster/${Cluster}', { Cluster: { 'Fn::GetAtt': ['Infrastructure', 'Outputs.ClusterName'] } }] },
      ],
    ]);
  });

  test('the size guard carries exactly what MultusNodegroup is about to get: its name, cluster, ScalingConfig and launch template version', () => {
    const guard = resources.NodegroupSizeGuard;
    const ng = resources.MultusNodegroup.Properties as Dict;
    expect(guard).toMatchObject({ Type: 'Custom::NodegroupSizeGuard', Condition: resources.MultusNodegroup.Condition });
    expect(guard.Properties).toEqual({
      ServiceToken: { 'Fn::GetAtt': ['HookInstallerFunction', 'Arn'] },
      ServiceTimeout: expect.any(Number),
      ClusterName: ng.ClusterName,
      NodegroupName: ng.NodegroupName,
      SizesOwner: { Ref: 'NodegroupSizesOwner' },
      ScalingConfig: ng.ScalingConfig,
      LaunchTemplateVersion: (ng.LaunchTemplate as Dict).Version,
    });
    expect(guard.Properties?.ServiceTimeout).toBeGreaterThan((resources.HookInstallerFunction.Properties as Dict).Timeout as number);
    expect(guard.Properties?.ServiceTimeout).toBeLessThanOrEqual(3600);
    // The installer knows the guard by this type.
    expect(guard.Type).toBe(SIZE_GUARD_TYPE);
  });

  test('the new VPC\'s AZs: InfraAz1..3 reach the infrastructure stack, checked by the same pattern (a name or an AZ ID)', () => {
    expect(resources.Infrastructure.Properties?.Parameters).toMatchObject({
      AvailabilityZone1: { Ref: 'InfraAz1' },
      AvailabilityZone2: { Ref: 'InfraAz2' },
      AvailabilityZone3: { Ref: 'InfraAz3' },
    });
    const infra = nested('infra.yaml');
    for (const n of [1, 2, 3]) {
      const ours = template.Parameters![`InfraAz${n}`] as { Default?: string; AllowedPattern?: string };
      expect(ours.Default).toBe('');
      expect(ours.AllowedPattern).toBe((infra.Parameters![`AvailabilityZone${n}`] as { AllowedPattern?: string }).AllowedPattern);
    }
  });

  describe('the template rules on the new VPC\'s AZs (evaluated for the parameters, as CloudFormation does before anything is created)', () => {
    const infra = (more: Record<string, string>) => failedRules(template, { CreateInfrastructure: 'true', ...more });

    test.each([
      [{}],
      [{ InfraAz1: 'use1-az1', InfraAz2: 'use1-az2' }],
      [{ InfraAz1: 'us-east-1a', InfraAz2: 'us-east-1c' }],
      [{ InfraAzCount: '3' }],
      [{ InfraAzCount: '3', InfraAz1: 'use1-az1', InfraAz2: 'use1-az2', InfraAz3: 'use1-az4' }],
    ])('%j passes', (params) => {
      expect(infra(params)).toEqual([]);
    });

    test.each([
      [{ InfraAz1: 'use1-az1' }, 'Name the new VPC\'s AZs in InfraAz1 and InfraAz2 (and InfraAz3 with InfraAzCount=3), or none of them'],
      [{ InfraAz3: 'use1-az4', InfraAzCount: '3' }, 'Name the new VPC\'s AZs in InfraAz1 and InfraAz2'],
      [{ InfraAz1: 'use1-az1', InfraAz2: 'use1-az1' }, 'InfraAz1 and InfraAz2 are the same AZ'],
      [{ InfraAzCount: '3', InfraAz1: 'use1-az1', InfraAz2: 'use1-az2', InfraAz3: 'use1-az2' }, 'InfraAz3 is the same AZ as InfraAz1 or InfraAz2'],
      [{ InfraAz1: 'use1-az1', InfraAz2: 'use1-az2', InfraAz3: 'use1-az4' }, 'InfraAz3 names a third AZ but InfraAzCount is 2'],
      [{ InfraAzCount: '3', InfraAz1: 'use1-az1', InfraAz2: 'use1-az2' }, 'InfraAzCount is 3 and InfraAz1, InfraAz2 are named; name the third AZ too'],
    ])('%j is refused: %s', (params, message) => {
      expect(infra(params)).toEqual([expect.stringContaining(message)]);
    });

    test('ignored for an existing cluster', () => {
      expect(failedRules(template, { CreateInfrastructure: 'false', ClusterName: 'c', NodegroupName: 'ng', InfraAz1: 'use1-az1' })).toEqual([]);
    });
  });

  test('an existing cluster needs its name and node group (a template rule)', () => {
    const rules = (template as unknown as { Rules: Record<string, { RuleCondition: unknown; Assertions: { Assert: unknown }[] }> }).Rules;
    expect(rules.ExistingClusterAndNodegroup.RuleCondition).toEqual({ 'Fn::Equals': [{ Ref: 'CreateInfrastructure' }, 'false'] });
    expect(rules.ExistingClusterAndNodegroup.Assertions.map((a) => a.Assert)).toEqual([
      { 'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'ClusterName' }, ''] }] },
      { 'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'NodegroupName' }, ''] }] },
    ]);
  });
});

test('parameters the contract names have their defaults', () => {
  expect(template.Parameters?.NodeTagKey?.Default).toBe('multus-ng');
  expect(template.Parameters?.ConfigPath?.Default).toBe('');
  expect(template.Parameters?.CreateInfrastructure).toMatchObject({ Default: 'false', AllowedValues: ['false', 'true'] });
  expect(template.Parameters?.UseIPsFromStartOfSubnet).toMatchObject({ Default: 'false' });
  expect(template.Parameters?.KubernetesVersion).toMatchObject({ Default: '1.35' });
  for (const [name, p] of Object.entries(template.Parameters ?? {})) expect({ name, described: (p.Description ?? '').length > 20 }).toEqual({ name, described: true });
});

test('every resource has a one-line comment saying why it exists', () => {
  const lines = readFileSync(join(ROOT, 'template.yaml'), 'utf8').split('\n');
  for (const name of Object.keys(resources)) {
    const at = lines.findIndex((l) => l === `  ${name}:`);
    expect({ name, comment: lines[at - 1]?.trim().startsWith('#') }).toEqual({ name, comment: true });
  }
});

test('samconfig.toml: a stack name, the capabilities nested stacks and IAM need, confirmed changesets, resolved bucket, cached parallel builds', () => {
  const config = readFileSync(join(ROOT, 'samconfig.toml'), 'utf8');
  const value = (section: string, key: string) => {
    const body = config.split(/^\[/m).find((s) => s.startsWith(`${section}]`)) ?? '';
    return new RegExp(`^${key}\\s*=\\s*(.+)$`, 'm').exec(body)?.[1].trim();
  };
  expect(value('default.global.parameters', 'stack_name')).toBe('"eks-multus-eni"');
  expect(value('default.deploy.parameters', 'capabilities')).toBe('"CAPABILITY_IAM CAPABILITY_AUTO_EXPAND"');
  expect(value('default.deploy.parameters', 'confirm_changeset')).toBe('true');
  expect(value('default.deploy.parameters', 'resolve_s3')).toBe('true');
  expect(value('default.build.parameters', 'cached')).toBe('true');
  expect(value('default.build.parameters', 'parallel')).toBe('true');
});

test('the migration table (docs/migration-from-the-seed.md) maps every seed parameter to parameters this template has', () => {
  const section = readFileSync(join(ROOT, 'docs', 'migration-from-the-seed.md'), 'utf8');
  const rows = section.split('\n').filter((l) => /^\| `[A-Za-z0-9]+` \|/.test(l));
  const seed = ['MultusSbunetsAz1', 'MultusSbunetsAz2', 'MultusSecurityGroupIds', 'EksNodeGroupTagKey', 'LambdaS3Bucket', 'LambdaS3Key', 'useIPsFromStartOfSubnet', 'MultusInterfaceTags'];
  expect(rows.map((r) => /^\| `([A-Za-z0-9]+)`/.exec(r)![1])).toEqual(seed);
  const ours = new Set(Object.keys(template.Parameters ?? {}));
  for (const row of rows) {
    const cells = row.split('|').map((c) => c.trim());
    for (const m of cells[2].matchAll(/`([A-Z][A-Za-z0-9]+)`/g)) expect({ row: cells[1], parameter: m[1], exists: ours.has(m[1]) }).toEqual({ row: cells[1], parameter: m[1], exists: true });
  }
});

describe('the order CloudFormation creates and deletes in (a resource goes after what it depends on, and before it on delete)', () => {
  /** Direct dependencies of each resource: DependsOn, Ref, GetAtt and the ${Name} and ${Name.Attr} of Fn::Sub. */
  function dependencies(tpl: Template): Map<string, Set<string>> {
    const ids = new Set(Object.keys(tpl.Resources));
    const graph = new Map<string, Set<string>>();
    for (const [id, resource] of Object.entries(tpl.Resources)) {
      const deps = new Set<string>([resource.DependsOn ?? []].flat());
      const text = JSON.stringify(resource.Properties ?? {});
      for (const m of text.matchAll(/"Ref":"([^"]+)"/g)) deps.add(m[1]);
      for (const m of text.matchAll(/"Fn::GetAtt":\["([^"]+)"/g)) deps.add(m[1]);
      for (const m of text.matchAll(/\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}/g)) deps.add(m[1]);
      graph.set(id, new Set([...deps].filter((d) => ids.has(d) && d !== id)));
    }
    return graph;
  }
  const graph = dependencies(deployed);
  const reaches = (from: string, to: string, seen = new Set<string>()): boolean => {
    if (from === to) return true;
    if (seen.has(from)) return false;
    seen.add(from);
    return [...(graph.get(from) ?? [])].some((d) => reaches(d, to, seen));
  };

  test('no cycle anywhere in what CloudFormation gets (the SAM-expanded template, roles included)', () => {
    const state = new Map<string, 'open' | 'done'>();
    const cycle: string[] = [];
    const visit = (id: string, path: string[]): void => {
      if (state.get(id) === 'done') return;
      if (state.get(id) === 'open') {
        cycle.push([...path, id].join(' -> '));
        return;
      }
      state.set(id, 'open');
      for (const d of graph.get(id) ?? []) visit(d, [...path, id]);
      state.set(id, 'done');
    };
    for (const id of graph.keys()) visit(id, []);
    expect(cycle).toEqual([]);
  });

  test('delete: the hooks, then the node group (its nodes terminate), then the clean-up of our ENIs, then the VPC', () => {
    expect(reaches('NodegroupLifecycleHooks', 'MultusNodegroup')).toBe(true);
    expect(reaches('MultusNodegroup', 'InfrastructureCleanup')).toBe(true);
    expect(reaches('InfrastructureCleanup', 'Infrastructure')).toBe(true);
    // ...and never the other way round, which would make the clean-up run too early.
    expect(reaches('InfrastructureCleanup', 'MultusNodegroup')).toBe(false);
    expect(resources.InfrastructureCleanup).toMatchObject({
      Type: 'Custom::InfrastructureCleanup',
      Condition: 'CreatingInfrastructure',
      Properties: {
        ServiceToken: { 'Fn::GetAtt': ['SweeperFunction', 'Arn'] },
        SubnetIds: [
          { 'Fn::GetAtt': ['Infrastructure', 'Outputs.Az1MultusSubnetIds'] },
          { 'Fn::GetAtt': ['Infrastructure', 'Outputs.Az2MultusSubnetIds'] },
          { 'Fn::GetAtt': ['Infrastructure', 'Outputs.Az3MultusSubnetIds'] },
        ],
      },
    });
    expect((resources.InfrastructureCleanup.Properties as Dict).ServiceTimeout).toBeGreaterThan((resources.SweeperFunction.Properties as Dict).Timeout as number);
  });

  test('create: the hooks exist before the node group gets any size (the sizes belong to the hooks resource)', () => {
    expect(reaches('NodegroupLifecycleHooks', 'LifecycleFunctionLifecycleAction')).toBe(true);
    expect(reaches('NodegroupLifecycleHooks', 'MultusNodegroup')).toBe(true);
    // Unless NodegroupSizesOwner=Template, the node group's own ScalingConfig is the constant 0/0/1.
    const branches = (resources.MultusNodegroup.Properties?.ScalingConfig as { 'Fn::If': [string, unknown, unknown] })['Fn::If'];
    expect(branches[0]).toBe('SizesInTemplate');
    expect(JSON.stringify(branches[2])).not.toMatch(/Ref|Fn::/);
  });

  test('update: the size guard runs before CloudFormation touches the node group, and never depends on it', () => {
    expect(resources.MultusNodegroup.DependsOn).toEqual(expect.arrayContaining(['NodegroupSizeGuard']));
    expect(reaches('MultusNodegroup', 'NodegroupSizeGuard')).toBe(true);
    expect(reaches('NodegroupSizeGuard', 'MultusNodegroup')).toBe(false);
    // It reads the node group through the hook installer, whose role therefore names the node group without a GetAtt of it.
    expect(reaches('HookInstallerFunction', 'MultusNodegroup')).toBe(false);
    expect(reaches('NodegroupSizeGuard', 'HookInstallerFunction')).toBe(true);
  });
});

/**
 * Every action granted, against the Service Authorization Reference (SAR): the grants for an action
 * must cover each resource type EC2 (or the other service) evaluates for it: the required ones (*)
 * and the optional ones our requests name (an attachment's instance, the security groups of a
 * create). Read from docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html,
 * list_amazonec2autoscaling.html, list_amazonelastickubernetesservice.html,
 * list_awssystemsmanager.html, list_amazonsqs.html, list_amazoncloudwatchlogs.html (2026).
 * `star`: the action supports no resource-level permission, so only `*` grants it.
 */
const SAR: Record<string, { types?: string[]; star?: true }> = {
  'ec2:CreateNetworkInterface': { types: ['network-interface', 'subnet', 'security-group'] },
  'ec2:CreateTags': { types: ['network-interface'] },
  'ec2:DeleteTags': { types: ['network-interface'] },
  'ec2:AttachNetworkInterface': { types: ['instance', 'network-interface'] },
  'ec2:DetachNetworkInterface': { types: ['instance', 'network-interface'] },
  // network-interface*; instance, security-group, subnet optional: our requests change the attachment (instance) only.
  'ec2:ModifyNetworkInterfaceAttribute': { types: ['network-interface', 'instance'] },
  'ec2:DeleteNetworkInterface': { types: ['network-interface'] },
  'ec2:AssignPrivateIpAddresses': { types: ['network-interface'] },
  // network-interface* only (AmazonEKSNetworkingPolicy scopes it the same way, by the ENI's tag).
  'ec2:AssignIpv6Addresses': { types: ['network-interface'] },
  'ec2:DescribeInstances': { star: true },
  'ec2:DescribeInstanceTypes': { star: true },
  'ec2:DescribeNetworkInterfaces': { star: true },
  'ec2:DescribeSecurityGroups': { star: true },
  'ec2:DescribeSubnets': { star: true },
  'ec2:GetSubnetCidrReservations': { star: true },
  'autoscaling:CompleteLifecycleAction': { types: ['autoScalingGroup'] },
  'autoscaling:RecordLifecycleActionHeartbeat': { types: ['autoScalingGroup'] },
  'autoscaling:PutLifecycleHook': { types: ['autoScalingGroup'] },
  'autoscaling:DeleteLifecycleHook': { types: ['autoScalingGroup'] },
  'autoscaling:DescribeAutoScalingGroups': { star: true },
  'autoscaling:DescribeAutoScalingInstances': { star: true },
  'autoscaling:DescribeLifecycleHooks': { star: true },
  'autoscaling:DescribeWarmPool': { star: true },
  'eks:DescribeNodegroup': { types: ['nodegroup'] },
  'eks:UpdateNodegroupConfig': { types: ['nodegroup'] },
  // cluster*; nodegroup optional, named by our request (nodegroupName).
  'eks:DescribeUpdate': { types: ['cluster', 'nodegroup'] },
  'ssm:GetParametersByPath': { types: ['parameter'] },
  'sqs:SendMessage': { types: ['queue'] },
  'logs:CreateLogStream': { types: ['log-stream'] },
  'logs:PutLogEvents': { types: ['log-stream'] },
};

/** The resource type a Resource entry grants, told from its ARN pattern (or the resource it names). */
function grantedType(resource: unknown): string {
  if (resource === '*') return '*';
  const getAtt = (resource as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt'];
  if (getAtt) {
    const type = deployed.Resources[getAtt[0]]?.Type;
    // A log group's Arn ends in ":*": every log stream of it.
    return type === 'AWS::SQS::Queue' ? 'queue' : type === 'AWS::Logs::LogGroup' ? 'log-stream' : `GetAtt ${type}`;
  }
  const arn = arnPattern(resource).replace(/\$\{[^}]+\}/g, '_');
  const m = /^arn:[^:]+:([a-z0-9-]+):[^:]*:[^:]*:([A-Za-z-]+)[:/_]/.exec(arn);
  if (!m) throw new Error(`cannot tell the resource type of ${arn}`);
  return m[1] === 'ssm' ? 'parameter' : m[2];
}

describe.each(Object.keys(roles))('IAM of %s against the Service Authorization Reference', (fn) => {
  const granted = new Map<string, Set<string>>();
  for (const s of statementsOf(fn)) for (const action of actions(s)) for (const r of resourcesOf(s)) granted.set(action, new Set([...(granted.get(action) ?? []), grantedType(r)]));

  test('every action granted is one the table knows, on * only when it supports no resource-level permission', () => {
    for (const [action, types] of granted) {
      const entry = SAR[action];
      expect({ action, known: entry !== undefined }).toEqual({ action, known: true });
      if (entry.star) expect({ action, types: [...types] }).toEqual({ action, types: ['*'] });
      else expect({ action, star: types.has('*') }).toEqual({ action, star: false });
    }
  });

  test('the grants of each action cover every resource type it is evaluated against', () => {
    for (const [action, types] of granted) {
      for (const type of SAR[action]?.types ?? []) expect({ action, type, covered: types.has(type) }).toEqual({ action, type, covered: true });
    }
  });
});

describe('nodes without a lifecycle hook (HooklessNodes)', () => {
  test('off by default; the rule matches pending and running state changes only and targets the lifecycle function, with a retry policy and the lifecycle dead-letter queue', () => {
    expect(template.Parameters?.HooklessNodes).toMatchObject({ Default: 'false', AllowedValues: ['false', 'true'] });
    expect(template.Conditions?.HandlingHooklessNodes).toEqual({ 'Fn::Equals': [{ Ref: 'HooklessNodes' }, 'true'] });
    const rule = resources.HooklessNodesRule;
    expect(rule.Condition).toBe('HandlingHooklessNodes');
    expect(rule.Properties?.EventPattern).toEqual({ source: ['aws.ec2'], 'detail-type': ['EC2 Instance State-change Notification'], detail: { state: ['pending', 'running'] } });
    expect(rule.Properties?.Targets).toEqual([
      {
        Id: 'LifecycleFunction',
        Arn: { 'Fn::GetAtt': ['LifecycleFunction', 'Arn'] },
        RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 3600 },
        DeadLetterConfig: { Arn: { 'Fn::GetAtt': ['LifecycleDeadLetterQueue', 'Arn'] } },
      },
    ]);
    expect(resources.HooklessNodesPermission.Properties).toMatchObject({ Principal: 'events.amazonaws.com', SourceArn: { 'Fn::GetAtt': ['HooklessNodesRule', 'Arn'] } });
  });

  test('events/state-change.json is what that rule delivers', () => {
    const event = JSON.parse(readFileSync(join(ROOT, 'events', 'state-change.json'), 'utf8'));
    const pattern = resources.HooklessNodesRule.Properties?.EventPattern as { source: string[]; 'detail-type': string[]; detail: { state: string[] } };
    expect(pattern.source).toContain(event.source);
    expect(pattern['detail-type']).toContain(event['detail-type']);
    expect(pattern.detail.state).toContain(event.detail.state);
  });
});
