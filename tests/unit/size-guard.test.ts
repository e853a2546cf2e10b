/**
 * The size guard's decision (decideSizes, a pure function of the layer): given what the template
 * is about to send to MultusNodegroup, what the previous template sent (an Update; unknown for a
 * guard new to the stack) and the node group as EKS describes it, whether the deployment may go
 * on, and a reason naming the live sizes, the template's and the fix. Also its properties as
 * CloudFormation sends them, and the physical id that remembers what it accepted. No AWS: the app
 * around it is tested against the emulator in tests/integration/size-guard.test.ts.
 */
import {
  acceptedHashes,
  CREATION_SIZES,
  decideSizes,
  parseSizeGuardTarget,
  sizeGuardHash,
  sizeGuardPhysicalId,
  type LiveNodegroup,
  type SizeGuardTarget,
} from 'multus-core/hooks';

const sizes = (minSize: number, desiredSize: number, maxSize: number) => ({ minSize, desiredSize, maxSize });
const installer = (launchTemplateVersion = '1', owner: SizeGuardTarget['owner'] = 'unstated'): SizeGuardTarget => ({
  clusterName: 'multus',
  nodegroupName: 'multus-ng',
  owner,
  scaling: CREATION_SIZES,
  launchTemplateVersion,
});
const templateOwned = (scaling = sizes(2, 3, 6), launchTemplateVersion = '1'): SizeGuardTarget => ({ ...installer(launchTemplateVersion), owner: 'template', scaling });
const live = (scaling = sizes(2, 3, 6)): LiveNodegroup => ({ scaling });

describe('the properties, as CloudFormation sends them (strings)', () => {
  const props = {
    ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:f',
    ClusterName: 'multus',
    NodegroupName: 'multus-ng',
    SizesOwner: '',
    ScalingConfig: { MinSize: '0', DesiredSize: '0', MaxSize: '1' },
    LaunchTemplateVersion: '4',
  };

  test('are read, the owner named as the template parameter says it', () => {
    expect(parseSizeGuardTarget(props)).toEqual({ clusterName: 'multus', nodegroupName: 'multus-ng', owner: 'unstated', scaling: sizes(0, 0, 1), launchTemplateVersion: '4' });
    expect(parseSizeGuardTarget({ ...props, SizesOwner: 'HookInstaller' }).owner).toBe('hook-installer');
    expect(parseSizeGuardTarget({ ...props, SizesOwner: 'Template' }).owner).toBe('template');
  });

  test('every problem is named, with its property', () => {
    expect(() => parseSizeGuardTarget({ ...props, SizesOwner: 'Operator', ScalingConfig: { MinSize: 'x', DesiredSize: '0', MaxSize: '1' }, LaunchTemplateVersion: '$Latest', NodegroupName: '' })).toThrow(
      'ResourceProperties.NodegroupName is missing; ResourceProperties.SizesOwner must be empty, HookInstaller or Template, got "Operator"; ResourceProperties.LaunchTemplateVersion must be a launch template version number, got "$Latest"; ResourceProperties.ScalingConfig.MinSize must be a whole number, got "x"',
    );
    expect(() => parseSizeGuardTarget({ ...props, ScalingConfig: '0/0/1' }, 'OldResourceProperties')).toThrow('OldResourceProperties.ScalingConfig must be an object with MinSize, DesiredSize and MaxSize');
    expect(() => parseSizeGuardTarget({ ...props, ScalingConfig: undefined })).toThrow('ResourceProperties.ScalingConfig is missing');
    expect(() => parseSizeGuardTarget({ ...props, ScalingConfig: { MinSize: '3', DesiredSize: '2', MaxSize: '4' } })).toThrow('ResourceProperties.ScalingConfig: MinSize 3 <= DesiredSize 2 <= MaxSize 4 does not hold');
  });
});

describe('no node group of that name yet (a new stack, or a new name: a replacement)', () => {
  test('passes: CloudFormation creates it with 0/0/1', () => {
    expect(decideSizes({ request: 'Create', target: installer() })).toEqual({
      allowed: true,
      reason: 'EKS node group "multus-ng" of cluster "multus" does not exist yet: CloudFormation creates it with 0/0/1 (min/desired/max)',
    });
    expect(decideSizes({ request: 'Update', target: installer('2'), previous: installer('1') }).allowed).toBe(true);
  });

  test('refused when the template would create it with sizes (NodegroupSizesOwner=Template): its nodes would launch before the hooks', () => {
    const decision = decideSizes({ request: 'Create', target: templateOwned() });
    expect(decision.allowed).toBe(false);
    expect(decision.reason).toContain('NodegroupSizesOwner=Template would create it with 2/3/6 (min/desired/max): its first nodes would launch before the lifecycle hooks exist');
    expect(decision.reason).toContain('Leave NodegroupSizesOwner empty');
  });
});

describe('the guard new to a stack whose node group exists (what the previous template sent is unknown)', () => {
  test('sizes the template already has pass, whoever owns them', () => {
    expect(decideSizes({ request: 'Create', target: installer(), live: live(CREATION_SIZES) }).allowed).toBe(true);
    expect(decideSizes({ request: 'Create', target: templateOwned(), live: live() }).allowed).toBe(true);
  });

  test('NodegroupSizesOwner stated: Template and HookInstaller pass, saying what CloudFormation will send', () => {
    expect(decideSizes({ request: 'Create', target: templateOwned(sizes(2, 3, 6), '2'), live: live(sizes(2, 5, 6)) })).toMatchObject({
      allowed: true,
      reason: expect.stringContaining('CloudFormation sends them only if the previous template\'s differ'),
    });
    expect(decideSizes({ request: 'Create', target: installer('2', 'hook-installer'), live: live() })).toMatchObject({
      allowed: true,
      reason: expect.stringContaining('the previous template also had 0/0/1, so CloudFormation sends no sizes'),
    });
  });

  test('not stated, with live sizes other than 0/0/1: refused, naming the live sizes, the template\'s and both fixes', () => {
    const decision = decideSizes({ request: 'Create', target: installer('2'), live: live() });
    expect(decision.allowed).toBe(false);
    expect(decision.reason).toMatch(/^EKS node group "multus-ng" of cluster "multus" has the live 2\/3\/6 \(min\/desired\/max\); this template's ScalingConfig is 0\/0\/1 \(min\/desired\/max\)/);
    expect(decision.reason).toContain('deploy with NodegroupSizesOwner=Template and those parameters at the values the stack has now');
    expect(decision.reason).toContain('deploy with NodegroupSizesOwner=HookInstaller');
    expect(decision.reason).toMatch(/Nothing was changed: the node group update was not started\.$/);
  });
});

describe('an update (the previous template\'s values known)', () => {
  test('the same ScalingConfig: CloudFormation sends no sizes; a new launch template version alone is one version update', () => {
    expect(decideSizes({ request: 'Update', target: installer('2'), previous: installer('1'), live: live() })).toEqual({
      allowed: true,
      reason: 'no change of EKS node group "multus-ng" of cluster "multus"\'s ScalingConfig: CloudFormation sends no sizes, the live 2/3/6 (min/desired/max) stay; launch template version 1 to 2 is one EKS version update',
    });
    expect(decideSizes({ request: 'Update', target: { ...installer(), owner: 'hook-installer' }, previous: installer(), live: live() }).allowed).toBe(true);
  });

  test('NodegroupSizesOwner from Template to empty would push 0/0/1 onto the live node group: refused, naming the drain and the fix', () => {
    const decision = decideSizes({ request: 'Update', target: installer(), previous: templateOwned(), live: live() });
    expect(decision.allowed).toBe(false);
    expect(decision.reason).toContain('This update would set EKS node group "multus-ng" of cluster "multus" from the live 2/3/6 (min/desired/max) to 0/0/1 (min/desired/max), terminating its nodes');
    expect(decision.reason).toContain('NodegroupSizesOwner changed from Template to empty');
    expect(decision.reason).toContain('Keep NodegroupSizesOwner=Template for this node group');
    // ...unless the live node group is at 0/0/1 anyway: then nothing changes.
    expect(decideSizes({ request: 'Update', target: installer(), previous: templateOwned(), live: live(CREATION_SIZES) }).allowed).toBe(true);
  });

  test('NodegroupSizesOwner to Template on a node group the hook installer sizes: refused (CloudFormation would send the parameters now, 0/0/1 on a rollback)', () => {
    const decision = decideSizes({ request: 'Update', target: templateOwned(), previous: installer(), live: live(sizes(2, 3, 6)) });
    expect(decision.allowed).toBe(false);
    expect(decision.reason).toContain('and send 0/0/1 back if this update rolls back');
  });

  test('a template edit of the creation sizes: refused, naming the edit', () => {
    const edited = { ...installer(), scaling: sizes(0, 0, 2) };
    const decision = decideSizes({ request: 'Update', target: edited, previous: installer(), live: live() });
    expect(decision.allowed).toBe(false);
    expect(decision.reason).toContain('to 0/0/2 (min/desired/max): MultusNodegroup\'s ScalingConfig changed in the template from 0/0/1');
    expect(decision.reason).not.toContain('terminating');
  });

  test('template-owned sizes changed on purpose pass; with a new launch template version in the same deployment, refused (EKS refuses the combination)', () => {
    expect(decideSizes({ request: 'Update', target: templateOwned(sizes(2, 4, 8)), previous: templateOwned(), live: live(sizes(2, 5, 6)) })).toEqual({
      allowed: true,
      reason: 'CloudFormation sets EKS node group "multus-ng" of cluster "multus" to 2/4/8 (min/desired/max) (the template\'s were 2/3/6; the live 2/5/6 (min/desired/max))',
    });
    const combined = decideSizes({ request: 'Update', target: templateOwned(sizes(2, 4, 8), '2'), previous: templateOwned(), live: live() });
    expect(combined.allowed).toBe(false);
    expect(combined.reason).toContain('from 2/3/6 to 2/4/8 (min/desired/max) and its launch template version 1 to 2 in one node group update, which EKS refuses ("Version and ReleaseVersion updates cannot be combined with other updates")');
    expect(combined.reason).toContain('Deploy them one after the other');
  });

  test('an edit of the creation sizes that the live node group already has, with a new launch template version: refused as a combination', () => {
    const edited = { ...installer('2'), scaling: sizes(0, 0, 2) };
    expect(decideSizes({ request: 'Update', target: edited, previous: installer('1'), live: live(sizes(0, 0, 2)) })).toMatchObject({ allowed: false, reason: expect.stringContaining('which EKS refuses') });
    expect(decideSizes({ request: 'Update', target: { ...installer('1'), scaling: sizes(0, 0, 2) }, previous: installer('1'), live: live(sizes(0, 0, 2)) }).allowed).toBe(true);
  });

  test('a node group whose sizes EKS did not report is treated as having other sizes', () => {
    expect(decideSizes({ request: 'Update', target: installer(), previous: templateOwned(), live: {} })).toMatchObject({ allowed: false, reason: expect.stringContaining('from the live unknown sizes') });
  });
});

describe('what the guard accepted, in its physical id', () => {
  const base = 'arn:aws:cloudformation:us-east-1:123456789012:stack/s/1/NodegroupSizeGuard';

  test('a digest of the properties that matter: equal properties, equal digest; any change, another', () => {
    expect(sizeGuardHash(installer())).toMatch(/^[0-9a-f]{16}$/);
    expect(sizeGuardHash(installer())).toBe(sizeGuardHash({ ...installer() }));
    for (const other of [installer('2'), installer('1', 'hook-installer'), templateOwned(CREATION_SIZES), { ...installer(), nodegroupName: 'other' }]) {
      expect(sizeGuardHash(other)).not.toBe(sizeGuardHash(installer()));
    }
  });

  test('the id carries the newest accepted digest and the one before; a new id for new properties', () => {
    const [a, b, c] = [sizeGuardHash(installer('1')), sizeGuardHash(installer('2')), sizeGuardHash(installer('3'))];
    const created = sizeGuardPhysicalId(base, a);
    expect(created).toBe(`${base}/${a}`);
    expect(acceptedHashes(created)).toEqual([a]);
    const updated = sizeGuardPhysicalId(base, b, created);
    expect(acceptedHashes(updated)).toEqual([b, a]);
    expect(acceptedHashes(sizeGuardPhysicalId(base, c, updated))).toEqual([c, b]);
    expect(sizeGuardPhysicalId(base, b, updated)).toBe(`${base}/${b}`);
    expect(acceptedHashes(base)).toEqual([]);
    expect(acceptedHashes(undefined)).toEqual([]);
  });
});
