/**
 * The root template keeps its promises: cfn-lint clean (with the nested stacks), every mutating
 * IAM action scoped by resource or condition, the rule filtering on our hook names, a dead-letter
 * queue and log retention in place.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadTemplate, type Dict } from '../../scripts/lib/template';
import { findTool } from '../support/moto';

const ROOT = join(__dirname, '..', '..');
const template = loadTemplate(join(ROOT, 'template.yaml'));
const resources = template.Resources;

interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

/** Every IAM statement granted to the lifecycle function, from SAM Policies and attached policies. */
function lifecycleStatements(): Statement[] {
  const fn = resources.LifecycleFunction.Properties as Dict;
  const inline = (fn.Policies as { Statement?: Statement[] }[]).flatMap((p) => p.Statement ?? []);
  const attached = Object.values(resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties?.Roles).includes('LifecycleFunctionRole'))
    .flatMap((r) => {
      const doc = r.Properties?.PolicyDocument as { 'Fn::Sub'?: string } | { Statement: Statement[] };
      const text = 'Fn::Sub' in doc ? String(doc['Fn::Sub']) : JSON.stringify(doc);
      return (JSON.parse(text) as { Statement: Statement[] }).Statement;
    });
  return [...inline, ...attached];
}

const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const READ_ONLY = /^(ec2:(Describe|Get)|autoscaling:Describe|ssm:GetParameter)/;

test('cfn-lint is clean on the root template and every nested template', () => {
  const lint = findTool('cfn-lint', ['--version']);
  const nested = readdirSync(join(ROOT, 'nested')).filter((f) => f.endsWith('.yaml')).map((f) => join('nested', f));
  const out = spawnSync(lint, ['template.yaml', ...nested], { cwd: ROOT, encoding: 'utf8' });
  expect(`${out.stdout}${out.stderr}`.trim()).toBe('');
  expect(out.status).toBe(0);
});

test('no action wildcards, and every mutating action is scoped by resource ARN pattern and a condition', () => {
  const statements = lifecycleStatements();
  expect(statements.length).toBeGreaterThan(0);
  for (const s of statements) {
    for (const action of actions(s)) {
      expect(action).not.toContain('*');
      if (READ_ONLY.test(action)) continue;
      expect({ sid: s.Sid, action, resource: s.Resource }).not.toEqual(expect.objectContaining({ resource: '*' }));
      const scopedByCondition = s.Condition !== undefined;
      const scopedByResource = s.Sid === 'CreateInterfaceInSubnet' || s.Sid === 'ReadSettings';
      expect({ sid: s.Sid, action, scoped: scopedByCondition || scopedByResource }).toEqual({ sid: s.Sid, action, scoped: true });
    }
  }
});

test('creating an ENI requires our ownership and no_manage tags in the request', () => {
  const create = lifecycleStatements().find((s) => s.Sid === 'CreateTaggedInterface');
  expect(create?.Condition).toEqual({
    StringLike: { 'aws:RequestTag/eks-multus-eni/instance-id': 'i-*' },
    StringEquals: { 'aws:RequestTag/node.k8s.amazonaws.com/no_manage': 'true' },
  });
  const tagging = lifecycleStatements().find((s) => actions(s).includes('ec2:CreateTags'));
  expect(tagging?.Condition).toEqual({ StringEquals: { 'ec2:CreateAction': 'CreateNetworkInterface' } });
});

test('modify, detach and delete only ENIs that carry our ownership tag; attach only to opted-in instances', () => {
  const statements = lifecycleStatements();
  const manage = statements.find((s) => s.Sid === 'ManageOwnInterfaces');
  expect(manage?.Condition).toEqual({ StringLike: { 'aws:ResourceTag/eks-multus-eni/instance-id': 'i-*' } });
  expect(actions(manage!)).toEqual(
    expect.arrayContaining(['ec2:ModifyNetworkInterfaceAttribute', 'ec2:DeleteNetworkInterface', 'ec2:DetachNetworkInterface', 'ec2:AttachNetworkInterface']),
  );
  const instances = statements.find((s) => s.Sid === 'AttachDetachOptedInInstances');
  expect(instances?.Resource).toMatch(/:instance\/\*$/);
  expect(instances?.Condition).toEqual({ Null: { 'aws:ResourceTag/${NodeTagKey}': 'false' } });
});

test('lifecycle calls only on the cluster node groups; SSM reads only under ConfigPath', () => {
  const statements = lifecycleStatements();
  const lifecycle = statements.find((s) => actions(s).includes('autoscaling:CompleteLifecycleAction'));
  expect(lifecycle?.Condition).toEqual({ StringEquals: { 'aws:ResourceTag/eks:cluster-name': { Ref: 'ClusterName' } } });
  const ssm = statements.find((s) => actions(s).includes('ssm:GetParametersByPath'));
  expect(JSON.stringify(ssm?.Resource)).toContain('parameter${Path}/*');
  expect(JSON.stringify(ssm?.Resource)).not.toMatch(/parameter\/\*/);
});

test('the rule matches only lifecycle actions of our hook names', () => {
  const events = (resources.LifecycleFunction.Properties as Dict).Events as Record<string, { Type: string; Properties: Dict }>;
  const rule = events.LifecycleAction;
  expect(rule.Type).toBe('EventBridgeRule');
  expect(rule.Properties.Pattern).toEqual({
    source: ['aws.autoscaling'],
    'detail-type': ['EC2 Instance-launch Lifecycle Action', 'EC2 Instance-terminate Lifecycle Action'],
    detail: { LifecycleHookName: [{ Ref: 'LaunchHookName' }, { Ref: 'TerminateHookName' }] },
  });
  expect(rule.Properties.DeadLetterConfig).toEqual({ Type: 'SQS', Destination: { 'Fn::GetAtt': ['LifecycleDeadLetterQueue', 'Arn'] } });
  expect(rule.Properties.RetryPolicy).toBeDefined();
});

test('a dead-letter queue catches failed invocations, and the log group has a retention', () => {
  const fn = resources.LifecycleFunction.Properties as Dict;
  expect(fn.EventInvokeConfig).toMatchObject({ DestinationConfig: { OnFailure: { Type: 'SQS', Destination: { 'Fn::GetAtt': ['LifecycleDeadLetterQueue', 'Arn'] } } } });
  expect(resources.LifecycleDeadLetterQueue.Type).toBe('AWS::SQS::Queue');
  expect(fn.LoggingConfig).toMatchObject({ LogGroup: { Ref: 'LifecycleLogGroup' } });
  expect(resources.LifecycleLogGroup.Properties?.RetentionInDays).toEqual({ Ref: 'LogRetentionDays' });
});

test('the function runs nodejs22.x with the layer and the contract environment', () => {
  expect(template.Globals?.Function?.Runtime).toBe('nodejs22.x');
  const fn = resources.LifecycleFunction.Properties as Dict;
  expect(fn.Layers).toEqual([{ Ref: 'MultusCoreLayer' }]);
  const vars = (fn.Environment as { Variables: Dict }).Variables;
  expect(Object.keys(vars)).toEqual(expect.arrayContaining(['CONFIG_PATH', 'NODE_TAG_KEY', 'POWERTOOLS_PARAMETERS_MAX_AGE']));
  expect(resources.LifecycleFunction.Metadata?.BuildProperties).toMatchObject({ External: ['multus-core'], MainFields: 'module,main', Target: 'es2022' });
  expect(resources.MultusCoreLayer.Metadata).toMatchObject({ BuildMethod: 'makefile' });
});

test('every resource has a one-line comment saying why it exists', () => {
  const { readFileSync } = require('node:fs') as typeof import('node:fs');
  const lines = readFileSync(join(ROOT, 'template.yaml'), 'utf8').split('\n');
  for (const name of Object.keys(resources)) {
    const at = lines.findIndex((l) => l === `  ${name}:`);
    expect({ name, comment: lines[at - 1]?.trim().startsWith('#') }).toEqual({ name, comment: true });
  }
});
