// Stryker ignorer (stryker.config.mjs, `ignorers: ['log-lines']`): no mutants inside the
// informational log calls of the domain (`log.info`, `log.warn`, `log.debug`, on `log`,
// `deps.log` or `this.deps.log`). Their wording and fields are for operators, no behaviour
// depends on them, and no test pins them; they would only add survivors. `log.error` calls stay
// mutated: "one structured error log names the cause" is a promise, and tests assert it.
import { declareValuePlugin, PluginKind } from '@stryker-mutator/api/plugin';

const INFORMATIONAL = new Set(['info', 'warn', 'debug']);

function isLog(node) {
  if (node.type === 'Identifier') return node.name === 'log';
  return node.type === 'MemberExpression' && !node.computed && node.property.type === 'Identifier' && node.property.name === 'log';
}

export const strykerPlugins = [
  declareValuePlugin(PluginKind.Ignore, 'log-lines', {
    shouldIgnore(path) {
      const { node } = path;
      if (node.type !== 'CallExpression' || node.callee.type !== 'MemberExpression' || node.callee.computed) return undefined;
      const { object, property } = node.callee;
      if (property.type === 'Identifier' && INFORMATIONAL.has(property.name) && isLog(object)) {
        return 'an informational log line: for operators, no behaviour depends on it';
      }
      return undefined;
    },
  }),
];
