/**
 * The node group size guard (Custom::NodegroupSizeGuard): what it is given and what it decides.
 * Pure: no AWS import; the live node group is read by the app (app.ts) and handed in.
 *
 * The guard sits before MultusNodegroup (which DependsOn it) and carries the ScalingConfig and the
 * launch template version the template is about to send to the node group. CloudFormation sends a
 * node group's ScalingConfig only when the template's value differs from the previous template's
 * (it compares templates, not the live node group), so:
 *  - a stack whose sizes belong to the hook installer keeps the constant 0/0/1 in the template, and
 *    sends it once, at the create; any later change of that value (a template edit, switching the
 *    sizes' owner) would push it onto a live node group and drain it: refused, naming the sizes;
 *  - a stack sized in the template (NodegroupSizesOwner=Template, node groups made by revisions
 *    before the hook installer sized them) sends its parameters' sizes when they change; a change
 *    of the sizes and of the launch template version in one deployment is one node group update
 *    that EKS refuses ("Version and ReleaseVersion updates cannot be combined with other
 *    updates", aws/containers-roadmap#1258): refused before CloudFormation tries it.
 * A node group that does not exist yet passes (unless the template would create it with sizes:
 * its first nodes would launch before the hooks exist).
 *
 * Whatever it decided, a request that brings back properties the guard accepted before (a
 * rollback restoring them) passes: failing there would leave the stack in UPDATE_ROLLBACK_FAILED.
 * The guard remembers what it accepted in its physical id (sizeGuardPhysicalId), and every accepted
 * update gets a new id, so that CloudFormation treats it as a replacement: a rollback then deletes
 * the new one and keeps the old, and only a failed update is updated back (with properties whose
 * hash the old id carries).
 */
import { createHash } from 'node:crypto';
import { InvalidRequestError } from '../custom-resource/envelope';
import type { ScalingConfig } from './port';
import { formatScaling, parseScaling } from './request';

/** The custom resource type of the guard (ResourceType of its requests). */
export const SIZE_GUARD_TYPE = 'Custom::NodegroupSizeGuard';

/** The sizes MultusNodegroup is created with when the hook installer owns them. */
export const CREATION_SIZES: ScalingConfig = { minSize: 0, desiredSize: 0, maxSize: 1 };

/**
 * Who sets the node group's sizes (template parameter NodegroupSizesOwner): the hook installer
 * (stated, or left empty: `unstated`, the same for a new stack) or the node group's own
 * ScalingConfig in the template.
 */
export type SizesOwner = 'unstated' | 'hook-installer' | 'template';

const OWNERS: Record<string, SizesOwner> = { '': 'unstated', HookInstaller: 'hook-installer', Template: 'template' };

/** What the template is about to send to the node group. */
export interface SizeGuardTarget {
  readonly clusterName: string;
  readonly nodegroupName: string;
  readonly owner: SizesOwner;
  /** MultusNodegroup's ScalingConfig as this template resolves it. */
  readonly scaling: ScalingConfig;
  /** MultusNodegroup's LaunchTemplate.Version. */
  readonly launchTemplateVersion: string;
}

/** The node group as EKS describes it now. */
export interface LiveNodegroup {
  /** Undefined: EKS did not report them (treated as sizes other than the template's). */
  readonly scaling?: ScalingConfig;
}

export interface SizeGuardInput {
  readonly request: 'Create' | 'Update';
  readonly target: SizeGuardTarget;
  /** Update: what the previous template sent. Create: unknown (the guard is new to the stack). */
  readonly previous?: SizeGuardTarget;
  /** Undefined: EKS knows no node group of that name. */
  readonly live?: LiveNodegroup;
}

export interface SizeGuardDecision {
  readonly allowed: boolean;
  readonly reason: string;
}

const CLUSTER_NAME = /^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$/;
const NODEGROUP_NAME = /^[0-9A-Za-z][A-Za-z0-9\-_]{0,62}$/;

/** Reads the guard's properties (CloudFormation sends strings); every problem names its property. */
export function parseSizeGuardTarget(properties: Record<string, unknown>, where = 'ResourceProperties'): SizeGuardTarget {
  const problems: string[] = [];
  const text = (name: string): string => {
    const raw = properties[name];
    return typeof raw === 'string' || typeof raw === 'number' ? String(raw).trim() : '';
  };
  const named = (name: string, pattern: RegExp, what: string): string => {
    const value = text(name);
    if (value === '') problems.push(`${where}.${name} is missing`);
    else if (!pattern.test(value)) problems.push(`${where}.${name} "${value}" is not ${what}`);
    return value;
  };
  const clusterName = named('ClusterName', CLUSTER_NAME, 'an EKS cluster name');
  const nodegroupName = named('NodegroupName', NODEGROUP_NAME, 'an EKS node group name');
  const ownerText = text('SizesOwner');
  const owner = OWNERS[ownerText];
  if (owner === undefined) problems.push(`${where}.SizesOwner must be empty, HookInstaller or Template, got ${JSON.stringify(ownerText)}`);
  const launchTemplateVersion = text('LaunchTemplateVersion');
  if (!/^[1-9]\d*$/.test(launchTemplateVersion)) problems.push(`${where}.LaunchTemplateVersion must be a launch template version number, got ${JSON.stringify(properties.LaunchTemplateVersion ?? null)}`);
  const scaling = parseScaling(properties.ScalingConfig, `${where}.ScalingConfig`, problems);
  if (!scaling && problems.every((p) => !p.startsWith(`${where}.ScalingConfig`))) problems.push(`${where}.ScalingConfig is missing`);
  if (problems.length > 0 || !scaling || !owner) throw new InvalidRequestError(problems);
  return { clusterName, nodegroupName, owner, scaling, launchTemplateVersion };
}

export function sameSizes(a: ScalingConfig | undefined, b: ScalingConfig | undefined): boolean {
  return !!a && !!b && a.minSize === b.minSize && a.desiredSize === b.desiredSize && a.maxSize === b.maxSize;
}

const sizesText = (s: ScalingConfig | undefined) => (s ? `${formatScaling(s)} (min/desired/max)` : 'unknown sizes');
const OWNER_PARAMETER = 'NodegroupSizesOwner';

/** Decides whether this deployment may go on to the node group. */
export function decideSizes(input: SizeGuardInput): SizeGuardDecision {
  const { target, previous, live } = input;
  const group = `EKS node group "${target.nodegroupName}" of cluster "${target.clusterName}"`;
  const allow = (reason: string): SizeGuardDecision => ({ allowed: true, reason });
  const refuse = (reason: string): SizeGuardDecision => ({ allowed: false, reason: `${reason}. Nothing was changed: the node group update was not started.` });

  if (!live) {
    if (target.owner === 'template') {
      return refuse(
        `${group} does not exist yet, and ${OWNER_PARAMETER}=Template would create it with ${sizesText(target.scaling)}: its first nodes would launch before the lifecycle hooks exist. ` +
          `Leave ${OWNER_PARAMETER} empty (a new node group is created with ${formatScaling(CREATION_SIZES)} and the hook installer sizes it once the hooks are in place); Template is only for a node group an earlier revision created sized`,
      );
    }
    return allow(`${group} does not exist yet: CloudFormation creates it with ${sizesText(target.scaling)}`);
  }

  const liveText = `the live ${sizesText(live.scaling)}`;
  if (!previous) {
    // The guard is new to an existing stack: what the previous template sent is unknown.
    if (sameSizes(target.scaling, live.scaling)) return allow(`${group} already has the template's ${sizesText(target.scaling)}`);
    if (target.owner === 'template') {
      return allow(
        `${group} has ${liveText}; the template's are ${sizesText(target.scaling)} (${OWNER_PARAMETER}=Template): CloudFormation sends them only if the previous template's differ`,
      );
    }
    if (target.owner === 'hook-installer') {
      return allow(`${group} has ${liveText}, set by the hook installer (${OWNER_PARAMETER}=HookInstaller): the previous template also had ${formatScaling(CREATION_SIZES)}, so CloudFormation sends no sizes`);
    }
    return refuse(
      `${group} has ${liveText}; this template's ScalingConfig is ${sizesText(target.scaling)}, which CloudFormation sends to it if the stack's previous template had other sizes there, setting it to ${formatScaling(target.scaling)}. ` +
        `This stack was deployed by a revision without this check, so say which: if that revision sized the node group by its parameters (its ScalingConfig was NodegroupMinSize/DesiredSize/MaxSize), deploy with ${OWNER_PARAMETER}=Template and those parameters at the values the stack has now; ` +
        `if the hook installer sized it (the node group was created with ${formatScaling(CREATION_SIZES)}), deploy with ${OWNER_PARAMETER}=HookInstaller`
    );
  }

  const sizesSent = !sameSizes(previous.scaling, target.scaling);
  const versionSent = previous.launchTemplateVersion !== target.launchTemplateVersion;
  const version = `launch template version ${previous.launchTemplateVersion} to ${target.launchTemplateVersion}`;
  if (!sizesSent) {
    return allow(`no change of ${group}'s ScalingConfig: CloudFormation sends no sizes, ${liveText} stay${versionSent ? `; ${version} is one EKS version update` : ''}`);
  }
  const switched = (previous.owner === 'template') !== (target.owner === 'template');
  if (switched && target.owner === 'template') {
    return refuse(
      `${OWNER_PARAMETER}=Template would have CloudFormation send ${sizesText(target.scaling)} to ${group}, whose sizes the hook installer owns (${liveText}), and send ${formatScaling(CREATION_SIZES)} back if this update rolls back. ` +
        `Keep ${OWNER_PARAMETER} as it was (empty or HookInstaller); change the sizes with NodegroupMinSize/DesiredSize/MaxSize`,
    );
  }
  if (target.owner !== 'template' && !sameSizes(target.scaling, live.scaling)) {
    const cause = switched
      ? `${OWNER_PARAMETER} changed from Template to ${target.owner === 'hook-installer' ? 'HookInstaller' : 'empty'}, which makes MultusNodegroup's ScalingConfig the creation sizes`
      : `MultusNodegroup's ScalingConfig changed in the template from ${formatScaling(previous.scaling)}`;
    return refuse(
      `This update would set ${group} from ${liveText} to ${sizesText(target.scaling)}${sameSizes(target.scaling, CREATION_SIZES) ? ', terminating its nodes' : ''}: ${cause}. ` +
        (switched
          ? `Keep ${OWNER_PARAMETER}=Template for this node group (its sizes stay in the template until it is replaced)`
          : `Keep MultusNodegroup's ScalingConfig at ${formatScaling(previous.scaling)} (the hook installer sets the sizes: NodegroupMinSize/DesiredSize/MaxSize)`),
    );
  }
  if (versionSent) {
    return refuse(
      `This update would change ${group}'s sizes from ${formatScaling(previous.scaling)} to ${sizesText(target.scaling)} and its ${version} in one node group update, which EKS refuses ("Version and ReleaseVersion updates cannot be combined with other updates"). ` +
        `Deploy them one after the other: first the new sizes with the launch template unchanged (the previous NodeAmiReleaseVersion, KubernetesVersion and node settings), then the node change`,
    );
  }
  return allow(`CloudFormation sets ${group} to ${sizesText(target.scaling)} (the template's were ${formatScaling(previous.scaling)}; ${liveText})`);
}

/** A short, stable digest of the properties that matter to the decision. */
export function sizeGuardHash(target: SizeGuardTarget): string {
  const { clusterName, nodegroupName, owner, scaling, launchTemplateVersion } = target;
  const canonical = JSON.stringify([clusterName, nodegroupName, owner, scaling.minSize, scaling.desiredSize, scaling.maxSize, launchTemplateVersion]);
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}

/** The digests of the properties a guard accepted, as its physical id carries them (newest first). */
export function acceptedHashes(physicalResourceId: string | undefined): string[] {
  const last = physicalResourceId?.split('/').pop() ?? '';
  return /^[0-9a-f]{16}(\.[0-9a-f]{16})?$/.test(last) ? last.split('.') : [];
}

/** The physical id of a guard that accepted `hash` (and, before it, what `previousId` carries). */
export function sizeGuardPhysicalId(base: string, hash: string, previousId?: string): string {
  const before = acceptedHashes(previousId)[0];
  return `${base}/${before && before !== hash ? `${hash}.${before}` : hash}`;
}
