/**
 * An instance's security groups in DescribeInstances (`Instance.SecurityGroups`, XML `groupSet`),
 * in the fidelity proxy. This is the field Karpenter's drift check reads
 * (aws/karpenter-provider-aws, pkg/providers/instance/types.go `NewInstance`), so a test that
 * shows "no SecurityGroupDrift" needs it answered as EC2 answers it.
 *
 * moto 5.2 answers it from the groups named by RunInstances' `SecurityGroupIds`/`SecurityGroups`
 * (and ModifyInstanceAttribute), never from the interfaces: an instance launched as Karpenter
 * launches (the groups on the launch's `NetworkInterfaces`) shows none, and an ENI attached later
 * changes nothing (moto/ec2/models/instances.py: `Instance.security_groups`, `attach_eni`).
 * (moto also reports, for an ENI attached to an instance launched with `SecurityGroupIds`, the
 * instance's groups beside its own: elastic_network_interfaces.py `group_set`. Instances launched
 * with the groups on their interfaces, as the tests here launch them, are not affected.)
 *
 * EC2's documentation says only "the security groups for the instance". What it lists for an
 * instance with several interfaces is not settled by any source found: issue 19 of this project
 * and a Karpenter user's report (aws/karpenter-provider-aws#5789, SecurityGroupDrift spikes that
 * followed the VPC CNI's CreateNetworkInterface) point to the groups of every attached interface;
 * the VPC user guide says changing an instance's groups changes those of its primary interface.
 * So a test picks the model (`FidelityControl.instanceGroups`):
 *   - `all-interfaces`: the union of the groups of every attached interface (by network card,
 *     then device index; each group once);
 *   - `primary-interface`: the groups of the interface at device index 0 of network card 0;
 *   - `moto` (the default): moto's answer, untouched.
 * The answer's interfaces (`networkInterfaceSet`, their `groupSet`) are moto's, and left as they are.
 */

export type InstanceGroupsModel = 'moto' | 'all-interfaces' | 'primary-interface';

interface XmlNode {
  readonly name: string;
  /** Offsets of the whole element, `<name ...>` to `</name>` (or the self-closing tag). */
  readonly start: number;
  end: number;
  readonly children: XmlNode[];
  /** Text between the tags of a leaf element. */
  text: string;
}

/** The elements of an EC2 answer as a tree (no attributes, comments or CDATA appear in one). */
function parseXml(xml: string): XmlNode {
  const root: XmlNode = { name: '', start: 0, end: xml.length, children: [], text: '' };
  const stack: XmlNode[] = [root];
  const tags = /<(\/?)([A-Za-z_][\w.-]*)[^>]*?(\/?)>/g;
  let textFrom = 0;
  for (let m = tags.exec(xml); m; m = tags.exec(xml)) {
    const [whole, closing, name, selfClosing] = m;
    const top = stack[stack.length - 1];
    if (closing) {
      if (top.name !== name) throw new Error(`fidelity-instance-groups: </${name}> closes <${top.name}>`);
      if (top.children.length === 0) top.text = xml.slice(textFrom, m.index);
      top.end = m.index + whole.length;
      stack.pop();
      continue;
    }
    const node: XmlNode = { name, start: m.index, end: m.index + whole.length, children: [], text: '' };
    top.children.push(node);
    if (!selfClosing) stack.push(node);
    textFrom = m.index + whole.length;
  }
  return root;
}

const child = (node: XmlNode | undefined, name: string) => node?.children.find((c) => c.name === name);
const items = (node: XmlNode | undefined) => (node?.children ?? []).filter((c) => c.name === 'item');

interface Group {
  readonly id: string;
  readonly xml: string;
}

/** Each attached interface of an instance: where it sits and its groups (as `<item>` XML). */
function interfacesOf(xml: string, instance: XmlNode): { card: number; device: number; groups: Group[] }[] {
  return items(child(instance, 'networkInterfaceSet'))
    .map((eni) => {
      const attachment = child(eni, 'attachment');
      return {
        card: Number(child(attachment, 'networkCardIndex')?.text ?? '0'),
        device: Number(child(attachment, 'deviceIndex')?.text ?? '-1'),
        groups: items(child(eni, 'groupSet')).map((g) => ({ id: child(g, 'groupId')?.text ?? '', xml: xml.slice(g.start, g.end) })),
      };
    })
    .filter((e) => e.device >= 0)
    .sort((a, b) => a.card - b.card || a.device - b.device);
}

/** The instance's groups under the model: the union of its interfaces' groups, or the primary's. */
function groupsUnder(model: Exclude<InstanceGroupsModel, 'moto'>, xml: string, instance: XmlNode): Group[] {
  const enis = interfacesOf(xml, instance);
  const chosen = model === 'primary-interface' ? enis.filter((e) => e.card === 0 && e.device === 0) : enis;
  const seen = new Set<string>();
  return chosen.flatMap((e) => e.groups).filter((g) => !seen.has(g.id) && seen.add(g.id));
}

/** A DescribeInstances answer with each instance's `groupSet` as EC2 would write it under `model`. */
export function instanceGroupsAsEc2(xml: string, model: InstanceGroupsModel): string {
  if (model === 'moto' || !xml.includes('<instancesSet>')) return xml;
  const root = parseXml(xml);
  const response = root.children[0];
  const edits: { start: number; end: number; text: string }[] = [];
  for (const reservation of items(child(response, 'reservationSet'))) {
    for (const instance of items(child(reservation, 'instancesSet'))) {
      const groups = groupsUnder(model, xml, instance);
      const text = `<groupSet>${groups.map((g) => g.xml).join('')}</groupSet>`;
      const own = child(instance, 'groupSet');
      // moto writes the instance's groupSet always; an answer without one gets it after its interfaces.
      const at = own ?? child(instance, 'networkInterfaceSet');
      if (!at) continue;
      edits.push(own ? { start: own.start, end: own.end, text } : { start: at.end, end: at.end, text });
    }
  }
  let out = xml;
  for (const edit of edits.sort((a, b) => b.start - a.start)) out = out.slice(0, edit.start) + edit.text + out.slice(edit.end);
  return out;
}
