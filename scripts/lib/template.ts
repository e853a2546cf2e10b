/**
 * Reading CloudFormation/SAM YAML: short-form intrinsic tags (!Ref, !Sub, ...) become their long
 * form ({"Fn::Sub": ...}) so templates can be inspected as plain data by tests and the build.
 */
import { readFileSync } from 'node:fs';
import YAML from 'yaml';

const SHORT_FORMS: Record<string, string> = {
  Ref: 'Ref',
  Condition: 'Condition',
  Sub: 'Fn::Sub',
  GetAtt: 'Fn::GetAtt',
  Select: 'Fn::Select',
  GetAZs: 'Fn::GetAZs',
  If: 'Fn::If',
  Equals: 'Fn::Equals',
  Not: 'Fn::Not',
  And: 'Fn::And',
  Or: 'Fn::Or',
  Join: 'Fn::Join',
  Split: 'Fn::Split',
  Base64: 'Fn::Base64',
  FindInMap: 'Fn::FindInMap',
  ImportValue: 'Fn::ImportValue',
  Cidr: 'Fn::Cidr',
  Transform: 'Fn::Transform',
};

function splitGetAtt(value: string): string[] {
  const dot = value.indexOf('.');
  return dot < 0 ? [value] : [value.slice(0, dot), value.slice(dot + 1)];
}

const cfnTags: YAML.Tags = Object.entries(SHORT_FORMS).flatMap(([short, long]): (YAML.ScalarTag | YAML.CollectionTag)[] => [
  {
    tag: `!${short}`,
    // !GetAtt A.B.C is ["A", "B.C"]: the logical id ends at the first dot (nested stack Outputs.X).
    resolve: (value: string) => ({ [long]: long === 'Fn::GetAtt' ? splitGetAtt(value) : value }),
  },
  ...(['seq', 'map'] as const).map(
    (collection): YAML.CollectionTag => ({
      tag: `!${short}`,
      collection,
      resolve: (node) => ({ [long]: node.toJSON() }),
    }),
  ),
]);

export type Dict = Record<string, unknown>;

export interface Template {
  AWSTemplateFormatVersion?: string;
  Transform?: unknown;
  Globals?: { Function?: Dict };
  Parameters?: Record<string, { Type: string; Default?: unknown; AllowedValues?: unknown[]; Description?: string }>;
  Conditions?: Record<string, unknown>;
  Resources: Record<string, { Type: string; Condition?: string; DependsOn?: string | string[]; Properties?: Dict; Metadata?: Dict }>;
  Outputs?: Record<string, { Value: unknown; Condition?: string }>;
}

export function parseTemplate(source: string): Template {
  return YAML.parse(source, { customTags: cfnTags }) as Template;
}

export function loadTemplate(path: string): Template {
  return parseTemplate(readFileSync(path, 'utf8'));
}
