/**
 * A function of template.yaml as `sam local invoke <LogicalId>` runs it: where its handler is, its
 * timeout, and the environment SAM gives it (samcli/local/lambdafn/env_vars.py, read from its
 * source): only the variables the template declares for the function; each takes, from highest to
 * lowest priority, the --env-vars file's entry for the function (or its `Parameters`), the shell's
 * value, the template's value; a value SAM cannot resolve (an intrinsic) is "" (empty).
 * Template values are resolved here as far as parameters' defaults, conditions and the pseudo
 * parameters AWS::StackName (samconfig.toml's stack_name) and AWS::Region allow.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadTemplate, type Dict, type Template } from './template';

export interface TemplateFunction {
  readonly logicalId: string;
  /** The TypeScript source of the handler, relative to the repository. */
  readonly source: string;
  /** The export the handler names. */
  readonly exportName: string;
  readonly timeoutSeconds: number;
  /** Declared variable to the template's value ('' when SAM could not resolve it). */
  readonly variables: Record<string, string>;
}

export class FunctionNotFound extends Error {
  override readonly name = 'FunctionNotFound';
}

function stackName(root: string): string {
  try {
    return /stack_name\s*=\s*"([^"]+)"/.exec(readFileSync(join(root, 'samconfig.toml'), 'utf8'))?.[1] ?? 'sam-app';
  } catch {
    return 'sam-app';
  }
}

/** Resolves what SAM's intrinsic resolver would: Ref to parameters and pseudo parameters, Fn::If, Fn::Sub, Fn::Join. */
function resolver(template: Template, pseudo: Record<string, string>) {
  const params = Object.fromEntries(Object.entries(template.Parameters ?? {}).map(([k, p]) => [k, p.Default === undefined ? undefined : String(p.Default)]));
  const ref = (name: string): string | undefined => (name in pseudo ? pseudo[name] : params[name]);
  const condition = (name: string): boolean | undefined => evalCondition(template.Conditions?.[name]);
  const evalCondition = (node: unknown): boolean | undefined => {
    if (!node || typeof node !== 'object') return undefined;
    const [fn, arg] = Object.entries(node as Dict)[0];
    const args = arg as unknown[];
    if (fn === 'Condition') return condition(arg as string);
    if (fn === 'Fn::Equals') {
      const [a, b] = [value(args[0]), value(args[1])];
      return a === undefined || b === undefined ? undefined : a === b;
    }
    const parts = (fn === 'Fn::Not' ? [args[0]] : args).map(evalCondition);
    if (parts.some((p) => p === undefined)) return undefined;
    if (fn === 'Fn::Not') return !parts[0];
    if (fn === 'Fn::And') return parts.every(Boolean);
    if (fn === 'Fn::Or') return parts.some(Boolean);
    return undefined;
  };
  const sub = (text: string, vars: Record<string, string | undefined>): string | undefined => {
    let ok = true;
    const out = text.replace(/\$\{([^}!][^}]*)\}/g, (_, name: string) => {
      const v = name in vars ? vars[name] : ref(name);
      if (v === undefined) ok = false;
      return v ?? '';
    });
    return ok ? out : undefined;
  };
  const value = (node: unknown): string | undefined => {
    if (typeof node === 'string' || typeof node === 'number' || typeof node === 'boolean') return String(node);
    if (!node || typeof node !== 'object' || Array.isArray(node)) return undefined;
    const [fn, arg] = Object.entries(node as Dict)[0];
    if (fn === 'Ref') return ref(arg as string);
    if (fn === 'Fn::If') {
      const [name, yes, no] = arg as [string, unknown, unknown];
      const c = condition(name);
      return c === undefined ? undefined : value(c ? yes : no);
    }
    if (fn === 'Fn::Sub') {
      if (typeof arg === 'string') return sub(arg, {});
      const [text, map] = arg as [string, Dict];
      return sub(text, Object.fromEntries(Object.entries(map).map(([k, v]) => [k, value(v)])));
    }
    if (fn === 'Fn::Join') {
      const [sep, items] = arg as [string, unknown[]];
      const parts = items.map(value);
      return parts.some((p) => p === undefined) ? undefined : parts.join(sep);
    }
    return undefined;
  };
  return value;
}

export function templateFunction(root: string, logicalId: string, region = process.env.AWS_REGION ?? 'us-east-1'): TemplateFunction {
  const template = loadTemplate(join(root, 'template.yaml'));
  const functions = Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::Serverless::Function');
  const found = functions.find(([id]) => id === logicalId);
  if (!found) throw new FunctionNotFound(`template.yaml has no function ${logicalId} (functions: ${functions.map(([id]) => id).join(', ')})`);
  const props = found[1].Properties ?? {};
  const build = (found[1].Metadata?.BuildProperties ?? {}) as { EntryPoints?: string[] };
  const [file, exportName] = String(props.Handler).split('.');
  const entry = build.EntryPoints?.[0] ?? `${file}.ts`;
  const value = resolver(template, { 'AWS::StackName': stackName(root), 'AWS::Region': region, 'AWS::Partition': 'aws', 'AWS::AccountId': '123456789012' });
  const declared = ((props.Environment as { Variables?: Dict } | undefined)?.Variables ?? {}) as Dict;
  const timeout = Number(props.Timeout ?? template.Globals?.Function?.Timeout ?? 3);
  return {
    logicalId,
    source: join(String(props.CodeUri ?? '.'), entry),
    exportName,
    timeoutSeconds: timeout,
    variables: Object.fromEntries(Object.entries(declared).map(([k, v]) => [k, value(v) ?? ''])),
  };
}

/** Every variable any function of the template declares (what a function must not see unless it declares it too). */
export function declaredAnywhere(root: string): Set<string> {
  const template = loadTemplate(join(root, 'template.yaml'));
  const names = new Set<string>();
  for (const r of Object.values(template.Resources)) {
    if (r.Type !== 'AWS::Serverless::Function') continue;
    for (const k of Object.keys(((r.Properties?.Environment as { Variables?: Dict } | undefined)?.Variables ?? {}) as Dict)) names.add(k);
  }
  return names;
}

/**
 * The function's environment as SAM gives it: `envFile` is the parsed --env-vars document
 * ({"<LogicalId>": {...}} and/or {"Parameters": {...}}), `shell` the invoking shell's variables.
 */
export function functionEnvironment(fn: TemplateFunction, shell: NodeJS.ProcessEnv, envFile: Dict = {}): Record<string, string> {
  const overrides = { ...((envFile.Parameters as Dict | undefined) ?? {}), ...((envFile[fn.logicalId] as Dict | undefined) ?? {}) };
  const out: Record<string, string> = {};
  for (const [name, templateValue] of Object.entries(fn.variables)) {
    const chosen = name in overrides ? overrides[name] : name in shell ? shell[name] : templateValue;
    out[name] = chosen === undefined || chosen === null || typeof chosen === 'object' ? '' : chosen === true ? 'true' : chosen === false ? 'false' : String(chosen);
  }
  return out;
}
