/**
 * The template's alarms, notification and dashboard, checked against the metrics catalog of the
 * layer (metrics/catalog.ts, which the code records through): every alarm and every dashboard
 * widget on a metric of ours names one the code emits, with one of the dimension sets it is
 * published under and a `function` that emits it; the AWS metrics they watch are the stack's own
 * queue, functions and rules (in what CloudFormation gets after the SAM transform, where the rules
 * exist); each alarm says what to do and notifies AlarmNotification; docs/operating.md explains each one
 * (the alarm descriptions point to docs/operating.md; the README's "Operating it" links each alarm there).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DIMENSION_VALUES, fullDimensionSets, metricNamed, METRICS, METRICS_NAMESPACE, SERVICE_NAME, type FunctionRole } from 'multus-core';
import { samTransform } from '../../scripts/lib/sam-transform';
import { loadTemplate, type Dict, type Template } from '../../scripts/lib/template';
import { findTool } from '../support/moto';

const ROOT = join(__dirname, '..', '..');
const template = loadTemplate(join(ROOT, 'template.yaml'));
const deployed: Template = samTransform(join(ROOT, 'template.yaml'), findTool('cfn-lint', ['--version']));
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const operating = readFileSync(join(ROOT, 'docs', 'operating.md'), 'utf8');

/** What each function of the template does, as the catalog's `emittedBy` says it. */
const ROLE_OF: Record<string, FunctionRole> = { LifecycleFunction: 'lifecycle', HookInstallerFunction: 'hook-installer', SweeperFunction: 'sweeper' };

interface MetricRef {
  readonly namespace: string;
  readonly name: string;
  /** Dimension name to its value: a literal, or `ref:<LogicalId>` / `ref:<LogicalId>.<Attribute>`. */
  readonly dimensions: Record<string, string>;
}

/** A dimension value as text: literals as they are, Ref/GetAtt (template) or ${...} (dashboard) as `ref:...`. */
function valueText(value: unknown): string {
  if (typeof value === 'string') return /^\{\{(.+)\}\}$/.exec(value) ? `ref:${value.slice(2, -2)}` : value;
  const v = value as { Ref?: string; 'Fn::GetAtt'?: string[] };
  if (v?.Ref) return `ref:${v.Ref}`;
  if (v?.['Fn::GetAtt']) return `ref:${v['Fn::GetAtt'].join('.')}`;
  return JSON.stringify(value);
}

const alarms = Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm');

/** Every metric an alarm watches: its own, or each MetricStat of its metric math. */
function alarmMetrics(props: Dict): MetricRef[] {
  const one = (m: Dict): MetricRef => ({
    namespace: String(m.Namespace),
    name: String(m.MetricName),
    dimensions: Object.fromEntries(((m.Dimensions ?? []) as { Name: string; Value: unknown }[]).map((d) => [d.Name, valueText(d.Value)])),
  });
  if (props.MetricName) return [one(props)];
  return metricQueries(props, true).flatMap((q) => (q.MetricStat ? [one(q.MetricStat.Metric)] : []));
}

interface MetricQuery {
  Id: string;
  Expression?: string;
  ReturnData?: boolean;
  MetricStat?: { Metric: Dict };
}

/** An alarm's metric queries as CloudFormation resolves them with HooklessNodes on or off (Fn::If, AWS::NoValue). */
function metricQueries(props: Dict, hookless: boolean): MetricQuery[] {
  const resolve = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(resolve).filter((v) => v !== NO_VALUE);
    if (value && typeof value === 'object') {
      const node = value as Dict;
      if (Array.isArray(node['Fn::If']) && node['Fn::If'][0] === 'HandlingHooklessNodes') return resolve(node['Fn::If'][hookless ? 1 : 2]);
      if (node.Ref === 'AWS::NoValue') return NO_VALUE;
      return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, resolve(v)]));
    }
    return value;
  };
  return (resolve(props.Metrics ?? []) as MetricQuery[]);
}
const NO_VALUE = Symbol('AWS::NoValue');

/** The dashboard's body with every ${...} of its !Sub as "{{...}}", parsed. */
function dashboard(): { widgets: { type: string; properties: Dict }[] } {
  const sub = template.Resources.OperationsDashboard.Properties?.DashboardBody as { 'Fn::Sub': string };
  return JSON.parse(sub['Fn::Sub'].replace(/\$\{([^}]+)\}/g, (_, name: string) => `{{${name}}}`));
}

/** The metrics of a dashboard widget: [namespace, name, dim, value, ..., {options}]. */
function widgetMetrics(properties: Dict): (MetricRef & { stat?: string })[] {
  return ((properties.metrics ?? []) as unknown[][]).map((row) => {
    const options = typeof row[row.length - 1] === 'object' ? (row[row.length - 1] as { stat?: string }) : {};
    const items = (typeof row[row.length - 1] === 'object' ? row.slice(0, -1) : row) as string[];
    expect(items[0]).not.toBe('.'); // no shorthand: every row names its own metric
    const dimensions: Record<string, string> = {};
    for (let i = 2; i < items.length; i += 2) dimensions[items[i]] = valueText(items[i + 1]);
    return { namespace: items[0], name: items[1], dimensions, stat: options.stat };
  });
}

/**
 * A metric of ours: in the catalog, with exactly one of its dimension sets, the service of the
 * code, a function that emits it, and dimension values the code publishes.
 */
function expectEmitted(m: MetricRef, where: string) {
  const def = metricNamed(m.name);
  expect({ where, metric: m.name, known: def !== undefined }).toEqual({ where, metric: m.name, known: true });
  const names = Object.keys(m.dimensions).sort();
  expect({ where, metric: m.name, dimensions: fullDimensionSets(def!).map((set) => [...set].sort()).some((set) => JSON.stringify(set) === JSON.stringify(names)) }).toEqual({
    where,
    metric: m.name,
    dimensions: true,
  });
  expect({ where, service: m.dimensions.service }).toEqual({ where, service: SERVICE_NAME });
  const fn = m.dimensions.function.replace(/^ref:/, '');
  expect({ where, metric: m.name, emittedBy: def!.emittedBy.includes(ROLE_OF[fn]) }).toEqual({ where, metric: m.name, emittedBy: true });
  for (const [name, value] of Object.entries(m.dimensions)) {
    const known = (DIMENSION_VALUES as Record<string, readonly string[]>)[name];
    if (known && known.length > 0) expect({ where, [name]: known.includes(value) }).toEqual({ where, [name]: true });
  }
}

/** An AWS metric of the stack's own resources: its queue, its functions, its rules (SAM-generated included). */
function expectOwnResource(m: MetricRef, where: string) {
  const resource = (value: string, type: string) => {
    const id = value.replace(/^ref:/, '').split('.')[0];
    expect({ where, value, type: deployed.Resources[id]?.Type }).toEqual({ where, value, type });
  };
  if (m.namespace === 'AWS/SQS') {
    expect({ where, dimensions: m.dimensions }).toEqual({ where, dimensions: { QueueName: 'ref:LifecycleDeadLetterQueue.QueueName' } });
  } else if (m.namespace === 'AWS/Lambda') {
    expect(Object.keys(m.dimensions)).toEqual(['FunctionName']);
    resource(m.dimensions.FunctionName, 'AWS::Lambda::Function');
  } else if (m.namespace === 'AWS/Events') {
    expect(Object.keys(m.dimensions)).toEqual(['RuleName']);
    resource(m.dimensions.RuleName, 'AWS::Events::Rule');
  } else {
    throw new Error(`${where}: a metric of ${m.namespace}, which no test knows`);
  }
}

function expectWatched(m: MetricRef, where: string) {
  if (m.namespace === METRICS_NAMESPACE) expectEmitted(m, where);
  else expectOwnResource(m, where);
}

describe('the alarms', () => {
  const byId = Object.fromEntries(alarms.map(([id, r]) => [id, alarmMetrics(r.Properties ?? {})]));
  const ours = (name: string, fn: string, dims: Record<string, string> = {}) => ({ namespace: METRICS_NAMESPACE, name, dimensions: { service: SERVICE_NAME, function: `ref:${fn}`, ...dims } });

  test('each watches what the issue asks for: the dead-letter queue, failed or ABANDONed launches, hook timeouts, the sweeper deleting, errors, throttles, the rule failing', () => {
    expect(byId).toEqual({
      DeadLetterQueueAlarm: [{ namespace: 'AWS/SQS', name: 'ApproximateNumberOfMessagesVisible', dimensions: { QueueName: 'ref:LifecycleDeadLetterQueue.QueueName' } }],
      LaunchFailuresAlarm: [
        ours(METRICS.launches.name, 'LifecycleFunction', { outcome: 'failed' }),
        ours(METRICS.launches.name, 'LifecycleFunction', { lifecycleResult: 'ABANDON' }),
      ],
      HookTimeoutsAlarm: [ours(METRICS.unsuccessfulLaunches.name, 'LifecycleFunction', { cause: 'hook-timeout' })],
      OrphansSweptAlarm: [ours(METRICS.sweepCandidates.name, 'SweeperFunction')],
      LifecycleErrorsAlarm: [{ namespace: 'AWS/Lambda', name: 'Errors', dimensions: { FunctionName: 'ref:LifecycleFunction' } }],
      LifecycleThrottlesAlarm: [{ namespace: 'AWS/Lambda', name: 'Throttles', dimensions: { FunctionName: 'ref:LifecycleFunction' } }],
      SweeperErrorsAlarm: [{ namespace: 'AWS/Lambda', name: 'Errors', dimensions: { FunctionName: 'ref:SweeperFunction' } }],
      RuleFailedInvocationsAlarm: [
        { namespace: 'AWS/Events', name: 'FailedInvocations', dimensions: { RuleName: 'ref:LifecycleFunctionLifecycleAction' } },
        { namespace: 'AWS/Events', name: 'FailedInvocations', dimensions: { RuleName: 'ref:LifecycleFunctionLaunchUnsuccessful' } },
        { namespace: 'AWS/Events', name: 'FailedInvocations', dimensions: { RuleName: 'ref:HooklessNodesRule' } },
      ],
    });
  });

  test.each(alarms.map(([id]) => id))('%s watches a metric the code emits (catalog name, dimension set, emitting function) or one of the stack\'s own resources', (id) => {
    for (const m of byId[id]) expectWatched(m, id);
  });

  test.each(alarms)('%s: fires on the first data point of 1 or more, missing data is no alarm, a description that says what to do, notifies AlarmNotification', (_id, alarm) => {
    const p = alarm.Properties ?? {};
    expect(p).toMatchObject({ EvaluationPeriods: 1, Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', TreatMissingData: 'notBreaching' });
    expect(p.AlarmName).toEqual({ 'Fn::Sub': expect.stringMatching(/^\$\{AWS::StackName\}-[a-z-]+$/) });
    const description = String(p.AlarmDescription);
    expect(description.length).toBeGreaterThan(200);
    expect(description.length).toBeLessThanOrEqual(1024); // CloudWatch's limit
    expect(description).toContain('docs/operating.md.');
    expect(p.AlarmActions).toEqual([
      { 'Fn::If': ['NotifyTopic', { Ref: 'AlarmNotification' }, { 'Fn::If': ['NotifyEmail', { Ref: 'AlarmTopic' }, { Ref: 'AWS::NoValue' }] }] },
    ]);
    // Metric math alarms return exactly one series, which fills gaps so one quiet metric does not
    // hide the other, and names only queries that exist (with HooklessNodes on and off).
    for (const hookless of [true, false]) {
      const queries = metricQueries(p, hookless);
      if (queries.length === 0) continue;
      const returned = queries.filter((q) => q.ReturnData !== false);
      expect(returned).toEqual([expect.objectContaining({ Expression: expect.stringContaining('FILL(') })]);
      const named = [...String(returned[0].Expression).matchAll(/FILL\((\w+)/g)].map((m) => m[1]).sort();
      expect({ hookless, named }).toEqual({ hookless, named: queries.filter((q) => q.MetricStat).map((q) => q.Id).sort() });
    }
  });
});

describe('who the alarms notify', () => {
  const pattern = new RegExp(String((template.Parameters?.AlarmNotification as { AllowedPattern?: string }).AllowedPattern));

  test('AlarmNotification: empty (nobody), an SNS topic ARN, or an e-mail address; nothing else', () => {
    expect(template.Parameters?.AlarmNotification).toMatchObject({ Type: 'String', Default: '' });
    for (const ok of ['', 'arn:aws:sns:us-east-1:123456789012:ops-alerts', 'arn:aws-cn:sns:cn-north-1:123456789012:ops', 'ops@example.com']) expect({ ok, matches: pattern.test(ok) }).toEqual({ ok, matches: true });
    for (const bad of ['ops', 'arn:aws:sqs:us-east-1:123456789012:q', 'arn:aws:sns:us-east-1:123456789012:t.fifo', 'a@b', 'x:y@example.com']) expect({ bad, matches: pattern.test(bad) }).toEqual({ bad, matches: false });
  });

  test('an ARN (it starts with "arn:") is notified as it is; an e-mail address gets a topic of the stack with it subscribed', () => {
    expect(template.Conditions?.NotifyTopic).toEqual({ 'Fn::Equals': [{ 'Fn::Select': [0, { 'Fn::Split': [':', { Ref: 'AlarmNotification' }] }] }, 'arn'] });
    expect(template.Conditions?.NotifyEmail).toEqual({
      'Fn::And': [{ 'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'AlarmNotification' }, ''] }] }, { 'Fn::Not': [{ Condition: 'NotifyTopic' }] }],
    });
    expect(template.Resources.AlarmTopic).toMatchObject({
      Type: 'AWS::SNS::Topic',
      Condition: 'NotifyEmail',
      Properties: { Subscription: [{ Protocol: 'email', Endpoint: { Ref: 'AlarmNotification' } }] },
    });
    expect(template.Outputs?.AlarmTopicArn).toMatchObject({ Condition: 'NotifyEmail', Value: { Ref: 'AlarmTopic' } });
  });
});

describe('the dashboard', () => {
  const widgets = dashboard().widgets;
  const metricWidgets = widgets.filter((w) => w.type === 'metric');
  const all = metricWidgets.flatMap((w) => widgetMetrics(w.properties).map((m) => ({ ...m, title: String(w.properties.title) })));

  test('every widget names metrics the code emits (catalog name, dimension set, emitting function) or the stack\'s own resources, in the stack\'s region', () => {
    expect(all.length).toBeGreaterThan(10);
    for (const m of all) expectWatched(m, `dashboard "${m.title}"`);
    for (const w of metricWidgets) expect(w.properties.region).toBe('{{AWS::Region}}');
  });

  test('shows what the issue asks for: launches by outcome, duration p50 and p95, races lost, the dead-letter queue, the sweeper deleting', () => {
    const has = (name: string, dims: Record<string, string> = {}, stat?: string) =>
      expect(all).toContainEqual(expect.objectContaining({ name, dimensions: expect.objectContaining(dims), ...(stat ? { stat } : {}) }));
    for (const outcome of DIMENSION_VALUES.outcome) has(METRICS.launches.name, { outcome });
    has(METRICS.launchDuration.name, {}, 'p50');
    has(METRICS.launchDuration.name, {}, 'p95');
    has(METRICS.addressRacesLost.name);
    has('ApproximateNumberOfMessagesVisible', { QueueName: 'ref:LifecycleDeadLetterQueue.QueueName' });
    has(METRICS.sweepDeletions.name);
    has(METRICS.unsuccessfulLaunches.name, { cause: 'hook-timeout' });
  });

  test('its alarm widget lists every alarm', () => {
    const listed = widgets.filter((w) => w.type === 'alarm').flatMap((w) => w.properties.alarms as string[]);
    expect(listed.sort()).toEqual(alarms.map(([id]) => `{{${id}.Arn}}`).sort());
  });

  test('its URL is an output, for the console of the stack\'s partition', () => {
    expect(template.Outputs?.DashboardUrl.Value).toEqual({
      'Fn::Sub': [
        'https://${Console}/cloudwatch/home?region=${AWS::Region}#dashboards/dashboard/${OperationsDashboard}',
        { Console: { 'Fn::FindInMap': ['Partitions', { Ref: 'AWS::Partition' }, 'Console'] } },
      ],
    });
  });
});

describe('the operating guide (docs/operating.md), where the README\'s "Operating it" points', () => {
  const section = operating;

  test('the README has the "Operating it" the alarm descriptions name, linking each alarm to its section of docs/operating.md', () => {
    const readmeSection = readme.slice(readme.indexOf('## Operating it'), readme.indexOf('\n## ', readme.indexOf('## Operating it') + 1));
    expect(readme).toContain('\n## Operating it\n');
    for (const [, alarm] of alarms) {
      const name = String((alarm.Properties?.AlarmName as { 'Fn::Sub': string })['Fn::Sub']).replace('${AWS::StackName}-', '');
      expect({ name, linked: readmeSection.includes(`(docs/operating.md#stack-${name})`) }).toEqual({ name, linked: true });
    }
  });

  test('explains every alarm with the first three commands to run, and links the dashboard', () => {
    expect(section.length).toBeGreaterThan(1000);
    expect(section).toContain('DashboardUrl');
    for (const [, alarm] of alarms) {
      const name = String((alarm.Properties?.AlarmName as { 'Fn::Sub': string })['Fn::Sub']).replace('${AWS::StackName}-', '');
      const at = section.indexOf(`\n### \`<stack>-${name}\``);
      expect({ name, explained: at >= 0 }).toEqual({ name, explained: true });
      const block = section.slice(at, section.indexOf('\n### ', at + 1) > 0 ? section.indexOf('\n### ', at + 1) : undefined);
      const commands = /```sh\n([\s\S]*?)```/.exec(block)?.[1].split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#') && !l.startsWith(' '));
      expect({ name, commands: commands?.length }).toEqual({ name, commands: 3 });
    }
  });

  test('lists every metric of the catalog, by name and unit', () => {
    for (const m of Object.values(METRICS)) expect({ metric: m.name, listed: section.includes(`| \`${m.name}\` | ${m.unit} |`) }).toEqual({ metric: m.name, listed: true });
  });
});
