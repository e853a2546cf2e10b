/**
 * Upgrading a stack made by an earlier revision, on the templates: the earlier revision's
 * MultusNodegroup (tests/fixtures/template-<commit>-nodegroup.yaml, verbatim excerpts) and today's
 * are resolved under the same parameters (tests/support/cfn-eval.ts), with the new launch template
 * version today's node agent brings, and the difference is read as CloudFormation's
 * AWS::EKS::Nodegroup update acts on it (nodegroupUpdate below). The size guard's decision for
 * that deployment is the pure function of the layer (decideSizes), given the node group as the
 * earlier revision left it. No emulator, no AWS: CloudFormation and EKS are modelled from their
 * documentation (cited at nodegroupUpdate); what only a real account shows is in the README.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { decideSizes, parseSizeGuardTarget, type LiveNodegroup } from 'multus-core/hooks';
import { loadTemplate, parseTemplate, type Template } from '../../scripts/lib/template';
import { evaluate, resolveResource, scopeFor } from '../support/cfn-eval';

type Dict = Record<string, unknown>;

const ROOT = join(__dirname, '..', '..');
const today = loadTemplate(join(ROOT, 'template.yaml'));
const fixture = (commit: string) => loadTemplate(join(ROOT, 'tests', 'fixtures', `template-${commit}-nodegroup.yaml`));
/** 57a5c70 up to eba6f43: the node group sized by the parameters in its own ScalingConfig. */
const sizedByParameters = fixture('57a5c70');
/** eba6f43 up to the size guard: created with 0/0/1, sized by the hook installer. */
const sizedByInstaller = fixture('eba6f43');

const STACK = 'eks-multus-eni';
/** The nested stacks' outputs a deployed stack has; the launch template's version is per revision. */
const outputs = (launchTemplateVersion: string): Record<string, string> => ({
  'Infrastructure.Outputs.ClusterName': 'multus',
  'Infrastructure.Outputs.NodeRoleArn': 'arn:aws:iam::123456789012:role/eks-multus-eni-NodeRole',
  'Infrastructure.Outputs.PrivateSubnetIds': 'subnet-0a,subnet-0b',
  'NodeLaunchTemplate.Outputs.LaunchTemplateId': 'lt-0123456789abcdef0',
  'NodeLaunchTemplate.Outputs.LaunchTemplateLatestVersion': launchTemplateVersion,
});
const SIZES = { NodegroupMinSize: '2', NodegroupDesiredSize: '3', NodegroupMaxSize: '6' };

function nodegroup(template: Template, params: Record<string, string>, launchTemplateVersion: string): Dict {
  const scope = scopeFor(template, { CreateInfrastructure: 'true', ...SIZES, ...params }, { attributes: outputs(launchTemplateVersion), pseudo: { 'AWS::StackName': STACK } });
  return resolveResource(scope, 'MultusNodegroup');
}

/** What the size guard of today's template is given for these parameters (its properties, resolved as CloudFormation sends them). */
function guardTarget(params: Record<string, string>, launchTemplateVersion: string) {
  const scope = scopeFor(today, { CreateInfrastructure: 'true', ...SIZES, ...params }, { attributes: outputs(launchTemplateVersion), pseudo: { 'AWS::StackName': STACK } });
  return parseSizeGuardTarget(stringified(resolveResource(scope, 'NodegroupSizeGuard')));
}

/** The sizes today's hooks resource has the hook installer set (absent: it never sizes the node group). */
function installerSizes(params: Record<string, string>): unknown {
  const scope = scopeFor(today, { CreateInfrastructure: 'true', ...SIZES, ...params }, { attributes: outputs('2'), pseudo: { 'AWS::StackName': STACK } });
  return evaluate({ ScalingConfig: today.Resources.NodegroupLifecycleHooks.Properties?.ScalingConfig }, scope);
}

/** CloudFormation hands a custom resource every property value as a string. */
function stringified(value: unknown): Dict {
  return JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' || typeof v === 'boolean' ? String(v) : v))) as Dict;
}

/**
 * What an update of AWS::EKS::Nodegroup from `before` to `after` does, as documented:
 *  - a change of a create-only property replaces the node group (createOnlyProperties of the
 *    resource schema, as cfn-lint 1.51 bundles it; "Update requires: Replacement" in the
 *    CloudFormation reference for AWS::EKS::Nodegroup);
 *  - LaunchTemplate (its Version), ReleaseVersion and Version are one UpdateNodegroupVersion; labels,
 *    taints, sizes and the update config are UpdateNodegroupConfig; tags are TagResource;
 *  - a version update with any other change is refused: "Version and ReleaseVersion updates cannot
 *    be combined with other updates" (aws/containers-roadmap#1258, eksctl-io/eksctl#2565; the
 *    CloudFormation reference's note on Tags, awsdocs/aws-cloudformation-user-guide#1181).
 * CloudFormation compares the two templates' values, not the live node group's.
 */
function nodegroupUpdate(before: Dict, after: Dict): { replacement: string[]; calls: string[]; refused?: string } {
  const CREATE_ONLY = ['CapacityType', 'NodegroupName', 'RemoteAccess', 'NodeRole', 'ClusterName', 'InstanceTypes', 'DiskSize', 'AmiType', 'Subnets'];
  const VERSION = ['LaunchTemplate', 'ReleaseVersion', 'Version', 'ForceUpdateEnabled'];
  const CONFIG = ['ScalingConfig', 'Labels', 'Taints', 'UpdateConfig', 'NodeRepairConfig'];
  const changed = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k])).sort();
  const replacement = changed.filter((k) => CREATE_ONLY.includes(k));
  if (replacement.length > 0) return { replacement, calls: ['CreateNodegroup (the new one)', 'DeleteNodegroup (the old one, at clean-up)'] };
  const calls = [
    ...(changed.some((k) => VERSION.includes(k)) ? ['UpdateNodegroupVersion'] : []),
    ...(changed.some((k) => CONFIG.includes(k)) ? ['UpdateNodegroupConfig'] : []),
    ...(changed.includes('Tags') ? ['TagResource'] : []),
  ];
  const refused = calls.includes('UpdateNodegroupVersion') && calls.length > 1 ? 'Version and ReleaseVersion updates cannot be combined with other updates' : undefined;
  return { replacement, calls, ...(refused ? { refused } : {}) };
}

/** The node group as the earlier revision left it (the sizes EKS reports). */
const left = (sizes: { minSize: number; desiredSize: number; maxSize: number }): LiveNodegroup => ({ scaling: sizes });

describe('a stack made by a revision that sized the node group by its parameters (57a5c70 up to eba6f43)', () => {
  const named = { NodegroupName: 'multus-ng' };
  const before = nodegroup(sizedByParameters, named, '1');

  test('with NodegroupSizesOwner=Template the upgrade changes only the launch template version: one EKS version update; the hook installer never sizes it', () => {
    const after = nodegroup(today, { ...named, NodegroupSizesOwner: 'Template' }, '2');

    expect(after.ScalingConfig).toEqual(before.ScalingConfig);
    expect(after.ScalingConfig).toEqual({ MinSize: '2', DesiredSize: '3', MaxSize: '6' });
    expect(nodegroupUpdate(before, after)).toEqual({ replacement: [], calls: ['UpdateNodegroupVersion'] });
    expect(installerSizes({ ...named, NodegroupSizesOwner: 'Template' })).toEqual({});
    // The guard, new to the stack, lets it through: the template's sizes are the live ones.
    const decision = decideSizes({ request: 'Create', target: guardTarget({ ...named, NodegroupSizesOwner: 'Template' }, '2'), live: left({ minSize: 2, desiredSize: 3, maxSize: 6 }) });
    expect(decision).toMatchObject({ allowed: true });
  });

  test('...also when the cluster autoscaler moved the desired size: CloudFormation sends no sizes (the templates agree), the guard lets it through', () => {
    const after = nodegroup(today, { ...named, NodegroupSizesOwner: 'Template' }, '2');
    expect(nodegroupUpdate(before, after).calls).toEqual(['UpdateNodegroupVersion']);
    const decision = decideSizes({ request: 'Create', target: guardTarget({ ...named, NodegroupSizesOwner: 'Template' }, '2'), live: left({ minSize: 2, desiredSize: 5, maxSize: 6 }) });
    expect(decision.allowed).toBe(true);
    expect(decision.reason).toContain('CloudFormation sends them only if the previous template\'s differ');
  });

  test('with NodegroupSizesOwner left empty it would also change ScalingConfig to 0/0/1, in the one update EKS refuses; the size guard refuses it first, naming the live sizes and the fix', () => {
    const after = nodegroup(today, named, '2');

    expect(after.ScalingConfig).toEqual({ MinSize: 0, DesiredSize: 0, MaxSize: 1 });
    expect(nodegroupUpdate(before, after)).toMatchObject({ calls: ['UpdateNodegroupVersion', 'UpdateNodegroupConfig'], refused: expect.stringContaining('cannot be combined') });
    const decision = decideSizes({ request: 'Create', target: guardTarget(named, '2'), live: left({ minSize: 2, desiredSize: 3, maxSize: 6 }) });
    expect(decision.allowed).toBe(false);
    expect(decision.reason).toContain('has the live 2/3/6 (min/desired/max)');
    expect(decision.reason).toContain('deploy with NodegroupSizesOwner=Template and those parameters at the values the stack has now');
  });

  test('split into two deployments, the first would send 0/0/1 alone and drain the node group: refused the same way', () => {
    const after = nodegroup(today, named, '1');
    expect(nodegroupUpdate(before, after)).toEqual({ replacement: [], calls: ['UpdateNodegroupConfig'] });
    expect(decideSizes({ request: 'Create', target: guardTarget(named, '1'), live: left({ minSize: 2, desiredSize: 3, maxSize: 6 }) }).allowed).toBe(false);
  });

  test('without a NodegroupName the node group is replaced (CloudFormation\'s generated name becomes <stack>-multus): the new one is created at 0/0/1 and sized after the hooks, so NodegroupSizesOwner stays empty', () => {
    const unnamed = nodegroup(sizedByParameters, {}, '1');
    const after = nodegroup(today, {}, '2');

    expect(unnamed.NodegroupName).toBeUndefined();
    expect(after.NodegroupName).toBe(`${STACK}-multus`);
    expect(nodegroupUpdate(unnamed, after).replacement).toEqual(['NodegroupName']);
    expect(after.ScalingConfig).toEqual({ MinSize: 0, DesiredSize: 0, MaxSize: 1 });
    expect(installerSizes({})).toEqual({ ScalingConfig: { MinSize: '2', DesiredSize: '3', MaxSize: '6' } });
    // No node group of the new name yet: the guard lets it through; with Template it would launch nodes before the hooks.
    expect(decideSizes({ request: 'Create', target: guardTarget({}, '2') }).allowed).toBe(true);
    const template = decideSizes({ request: 'Create', target: guardTarget({ NodegroupSizesOwner: 'Template' }, '2') });
    expect(template.allowed).toBe(false);
    expect(template.reason).toContain('its first nodes would launch before the lifecycle hooks exist');
  });
});

describe('a stack made by a revision that had the hook installer size the node group (eba6f43 up to the size guard)', () => {
  const named = { NodegroupName: 'multus-ng' };
  const before = nodegroup(sizedByInstaller, named, '1');

  test('only the launch template version changes: ScalingConfig stays 0/0/1 in the template and CloudFormation sends no sizes', () => {
    for (const owner of ['', 'HookInstaller']) {
      const after = nodegroup(today, { ...named, NodegroupSizesOwner: owner }, '2');
      expect({ owner, update: nodegroupUpdate(before, after) }).toEqual({ owner, update: { replacement: [], calls: ['UpdateNodegroupVersion'] } });
      expect(installerSizes({ ...named, NodegroupSizesOwner: owner })).toEqual({ ScalingConfig: { MinSize: '2', DesiredSize: '3', MaxSize: '6' } });
    }
  });

  test('the guard, new to the stack, cannot tell this stack from one sized by its parameters: it asks once (NodegroupSizesOwner=HookInstaller), then lets it through', () => {
    const live = left({ minSize: 2, desiredSize: 3, maxSize: 6 });
    expect(decideSizes({ request: 'Create', target: guardTarget(named, '2'), live })).toMatchObject({ allowed: false, reason: expect.stringContaining('deploy with NodegroupSizesOwner=HookInstaller') });
    expect(decideSizes({ request: 'Create', target: guardTarget({ ...named, NodegroupSizesOwner: 'HookInstaller' }, '2'), live }).allowed).toBe(true);
  });
});

test('a new stack: the guard finds no node group and lets it through; the node group is created with 0/0/1 and the hook installer sets the sizes after the hooks', () => {
  const created = nodegroup(today, {}, '1');
  expect(created.ScalingConfig).toEqual({ MinSize: 0, DesiredSize: 0, MaxSize: 1 });
  expect(installerSizes({})).toEqual({ ScalingConfig: { MinSize: '2', DesiredSize: '3', MaxSize: '6' } });
  expect(decideSizes({ request: 'Create', target: guardTarget({}, '1') })).toMatchObject({ allowed: true, reason: expect.stringContaining('does not exist yet') });
});

test('later deployments of a stack sized by the hook installer: a size change goes to the installer, not to the node group; a template edit of its ScalingConfig is refused by the guard', () => {
  const before = nodegroup(today, {}, '1');
  const bigger = { NodegroupMinSize: '3', NodegroupDesiredSize: '4', NodegroupMaxSize: '8' };
  const after = nodegroup(today, bigger, '2');
  expect(nodegroupUpdate(before, after).calls).toEqual(['UpdateNodegroupVersion']);
  expect(installerSizes(bigger)).toEqual({ ScalingConfig: { MinSize: '3', DesiredSize: '4', MaxSize: '8' } });

  // Someone edits the constant (0/0/1 -> 0/0/2) and deploys: CloudFormation would send it to the live node group.
  const edited = parseTemplate(JSON.stringify(today).replaceAll('"MinSize":0,"DesiredSize":0,"MaxSize":1', '"MinSize":0,"DesiredSize":0,"MaxSize":2'));
  const scope = scopeFor(edited, { CreateInfrastructure: 'true' }, { attributes: outputs('1'), pseudo: { 'AWS::StackName': STACK } });
  const target = parseSizeGuardTarget(stringified(resolveResource(scope, 'NodegroupSizeGuard')));
  expect(target.scaling).toEqual({ minSize: 0, desiredSize: 0, maxSize: 2 });
  const decision = decideSizes({ request: 'Update', target, previous: guardTarget({}, '1'), live: left({ minSize: 2, desiredSize: 3, maxSize: 6 }) });
  expect(decision).toMatchObject({ allowed: false, reason: expect.stringContaining('would set EKS node group "eks-multus-eni-multus" of cluster "multus" from the live 2/3/6 (min/desired/max) to 0/0/2') });
});

test('the fixtures are the earlier revisions\' text (when the repository history is there)', () => {
  const git = spawnSync('git', ['cat-file', '-e', '57a5c70^{commit}'], { cwd: ROOT });
  if (git.status !== 0) {
    console.warn('upgrade.test.ts: commit 57a5c70 is not in this clone (shallow?): the fixtures are not compared with it');
    return;
  }
  for (const [commit, excerpt] of [['57a5c70', sizedByParameters], ['eba6f43', sizedByInstaller]] as const) {
    const original = parseTemplate(spawnSync('git', ['show', `${commit}:template.yaml`], { cwd: ROOT, encoding: 'utf8' }).stdout);
    expect({ commit, nodegroup: excerpt.Resources.MultusNodegroup }).toEqual({ commit, nodegroup: original.Resources.MultusNodegroup });
    for (const name of Object.keys(excerpt.Parameters ?? {})) expect({ commit, name, p: excerpt.Parameters![name] }).toEqual({ commit, name, p: original.Parameters![name] });
    for (const name of Object.keys(excerpt.Conditions ?? {})) expect({ commit, name, c: excerpt.Conditions![name] }).toEqual({ commit, name, c: original.Conditions![name] });
    for (const name of Object.keys(excerpt.Resources)) expect({ commit, name, type: excerpt.Resources[name].Type }).toEqual({ commit, name, type: original.Resources[name].Type });
  }
});
