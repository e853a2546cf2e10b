/**
 * A small evaluator of the CloudFormation intrinsic functions our templates use (parameters,
 * conditions, Ref/GetAtt/Sub/If/Join/Split/Select/GetAZs/Cidr/Base64), for the template tests:
 * every combination of the condition parameters is checked for references to resources the
 * conditions leave out, a resource's properties are resolved as CloudFormation would send them
 * (to compare two templates under the same parameters: what an update changes), and the Rules
 * section is evaluated for parameter values (which assertions fail, with their descriptions).
 *
 * What CloudFormation resolves at deploy time is a placeholder unless told: a resource's Ref is
 * `<Name>`, an attribute `<Name.Attr>` (or the value `attributes` gives), a pseudo parameter
 * `<AWS::X>` (or `pseudo`), Fn::GetAZs the three AZs `azs`.
 */
import type { Template } from '../../scripts/lib/template';

type Dict = Record<string, unknown>;

export const NO_VALUE = Symbol('AWS::NoValue');

export interface ScopeOptions {
  /** Values of Fn::GetAtt, by `Name.Attr` (a nested stack's `Name.Outputs.X`). */
  readonly attributes?: Record<string, string>;
  /** Pseudo parameters, by name (`AWS::StackName`). */
  readonly pseudo?: Record<string, string>;
  /** What Fn::GetAZs returns. */
  readonly azs?: readonly string[];
}

export interface Scope {
  readonly template: Template;
  readonly params: Record<string, string>;
  readonly conditions: Record<string, boolean>;
  readonly options: ScopeOptions;
}

function isDict(value: unknown): value is Dict {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The template with these parameter values (defaults for the others); every condition evaluated. */
export function scopeFor(template: Template, given: Record<string, string>, options: ScopeOptions = {}): Scope {
  const params: Record<string, string> = {};
  for (const [name, param] of Object.entries(template.Parameters ?? {})) {
    const value = given[name] ?? (param.Default === undefined ? undefined : String(param.Default));
    if (value === undefined) throw new Error(`parameter ${name} has no default and no test value`);
    // An SSM-typed parameter names an SSM parameter; CloudFormation hands the template its value.
    params[name] = param.Type.startsWith('AWS::SSM::Parameter::Value<') ? `<resolved ${name}>` : value;
  }
  const scope: Scope = { template, params, conditions: {}, options };
  const pending = new Set<string>();
  const condition = (name: string): boolean => {
    if (name in scope.conditions) return scope.conditions[name];
    const definition = template.Conditions?.[name];
    if (definition === undefined) throw new Error(`unknown condition ${name}`);
    if (pending.has(name)) throw new Error(`condition ${name} refers to itself`);
    pending.add(name);
    scope.conditions[name] = booleanOf(definition, scope, condition);
    return scope.conditions[name];
  };
  for (const name of Object.keys(template.Conditions ?? {})) condition(name);
  return scope;
}

/** A condition (or rule) expression: Fn::Equals/Not/And/Or, Condition, and (rules) Fn::Contains. */
function booleanOf(node: unknown, scope: Scope, condition: (name: string) => boolean): boolean {
  if (!isDict(node)) throw new Error(`not a condition: ${JSON.stringify(node)}`);
  const [fn, arg] = Object.entries(node)[0];
  const args = arg as unknown[];
  switch (fn) {
    case 'Condition':
      return condition(arg as string);
    case 'Fn::Equals':
      return String(evaluate(args[0], scope)) === String(evaluate(args[1], scope));
    case 'Fn::Not':
      return !booleanOf(args[0], scope, condition);
    case 'Fn::And':
      return args.every((a) => booleanOf(a, scope, condition));
    case 'Fn::Or':
      return args.some((a) => booleanOf(a, scope, condition));
    case 'Fn::Contains':
      return (evaluate(args[0], scope) as unknown[]).map(String).includes(String(evaluate(args[1], scope)));
    default:
      throw new Error(`unsupported condition function ${fn}`);
  }
}

export function resourceEnabled(scope: Scope, name: string): boolean {
  const resource = scope.template.Resources[name];
  if (resource === undefined) throw new Error(`unknown resource ${name}`);
  return resource.Condition === undefined || scope.conditions[resource.Condition];
}

function ref(scope: Scope, name: string): unknown {
  if (name === 'AWS::NoValue') return NO_VALUE;
  if (name.startsWith('AWS::')) return scope.options.pseudo?.[name] ?? `<${name}>`;
  if (name in scope.params) return scope.params[name];
  if (!resourceEnabled(scope, name)) throw new Error(`Ref ${name}: the conditions leave that resource out`);
  return `<${name}>`;
}

function getAtt(scope: Scope, name: string, attribute: string): string {
  if (!resourceEnabled(scope, name)) throw new Error(`GetAtt ${name}.${attribute}: the conditions leave that resource out`);
  return scope.options.attributes?.[`${name}.${attribute}`] ?? `<${name}.${attribute}>`;
}

/** Fn::Cidr: `count` blocks of 2^bits addresses from the start of an IPv4 block, as CloudFormation
 * computes them; symbolic (`<cidr i of n>`) when the block is not known (a GetAtt with no value given). */
function cidrs(block: string, count: number, bits: number): string[] {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(block);
  if (!m) return Array.from({ length: count }, (_, i) => `<cidr ${i} of ${count}>`);
  const base = m.slice(1, 5).reduce((a, o) => a * 256 + Number(o), 0);
  if (count * 2 ** bits > 2 ** (32 - Number(m[5]))) throw new Error(`Fn::Cidr: ${count} blocks of /${32 - bits} do not fit in ${block}`);
  const text = (n: number) => [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
  return Array.from({ length: count }, (_, i) => `${text(base + i * 2 ** bits)}/${32 - bits}`);
}

/** The value of a template fragment in this scope (AWS::NoValue drops the key or list item). */
export function evaluate(node: unknown, scope: Scope): unknown {
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
      case 'Fn::Split':
        return String(evaluate(args[1], scope)).split(args[0] as string);
      case 'Fn::Select': {
        const list = evaluate(args[1], scope) as unknown[];
        const index = Number(evaluate(args[0], scope));
        if (!(index < list.length)) throw new Error(`Fn::Select index ${index} beyond ${list.length} items`);
        return list[index];
      }
      case 'Fn::GetAZs':
        return [...(scope.options.azs ?? ['az-a', 'az-b', 'az-c'])];
      case 'Fn::Cidr': {
        const count = Number(evaluate(args[1], scope));
        return cidrs(String(evaluate(args[0], scope)), count, Number(evaluate(args[2], scope)));
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

/** One resource's properties as CloudFormation would send them; throws when the conditions leave it out. */
export function resolveResource(scope: Scope, name: string): Dict {
  if (!resourceEnabled(scope, name)) throw new Error(`${name}: the conditions leave it out`);
  return evaluate(scope.template.Resources[name].Properties ?? {}, scope) as Dict;
}

/** Evaluates every resource and output the conditions keep; throws on a dangling reference. */
export function evaluateAll(scope: Scope): { resources: Record<string, Dict>; outputs: Record<string, unknown> } {
  const resources: Record<string, Dict> = {};
  for (const [name, resource] of Object.entries(scope.template.Resources)) {
    if (!resourceEnabled(scope, name)) continue;
    for (const dependency of [resource.DependsOn ?? []].flat()) {
      if (!resourceEnabled(scope, dependency)) throw new Error(`${name} DependsOn ${dependency}, which is left out`);
    }
    resources[name] = resolveResource(scope, name);
  }
  const outputs: Record<string, unknown> = {};
  for (const [name, output] of Object.entries(scope.template.Outputs ?? {})) {
    if (output.Condition !== undefined && !scope.conditions[output.Condition]) continue;
    outputs[name] = evaluate(output.Value, scope);
  }
  return { resources, outputs };
}

interface Rule {
  RuleCondition?: unknown;
  Assertions: { Assert: unknown; AssertDescription?: string }[];
}

/** The AssertDescription of every assertion of the Rules section that these parameter values fail. */
export function failedRules(template: Template, given: Record<string, string>): string[] {
  const scope = scopeFor(template, given);
  const condition = (name: string) => scope.conditions[name];
  const rules = ((template as unknown as { Rules?: Record<string, Rule> }).Rules ?? {}) as Record<string, Rule>;
  const failed: string[] = [];
  for (const [name, rule] of Object.entries(rules)) {
    if (rule.RuleCondition !== undefined && !booleanOf(rule.RuleCondition, scope, condition)) continue;
    for (const assertion of rule.Assertions) {
      if (!booleanOf(assertion.Assert, scope, condition)) failed.push(assertion.AssertDescription ?? `rule ${name}`);
    }
  }
  return failed;
}
