/**
 * The environment `npm run invoke --function` gives a function, as `sam local invoke` does
 * (samcli/local/lambdafn/env_vars.py): only the variables the template declares for it, each from
 * the --env-vars entry, else the shell, else the template's value; what SAM cannot resolve is "".
 */
import { join } from 'node:path';
import { declaredAnywhere, functionEnvironment, templateFunction } from '../../scripts/lib/function-env';

const ROOT = join(__dirname, '..', '..');

test('each function of the template: its handler source, export and timeout', () => {
  expect(templateFunction(ROOT, 'LifecycleFunction')).toMatchObject({ source: 'functions/lifecycle/handler.ts', exportName: 'handler', timeoutSeconds: 120 });
  expect(templateFunction(ROOT, 'HookInstallerFunction')).toMatchObject({ source: 'functions/hook-installer/handler.ts', timeoutSeconds: 600 });
  expect(templateFunction(ROOT, 'SweeperFunction')).toMatchObject({ source: 'functions/sweeper/handler.ts', timeoutSeconds: 300 });
  expect(() => templateFunction(ROOT, 'NoSuchFunction')).toThrow('template.yaml has no function NoSuchFunction (functions: LifecycleFunction, HookInstallerFunction, SweeperFunction)');
});

test('template values: parameter defaults, conditions and the stack name resolved; the hook names among them', () => {
  const fn = templateFunction(ROOT, 'LifecycleFunction');
  expect(fn.variables).toMatchObject({
    CONFIG_PATH: '/eks-multus-eni/eks-multus-eni',
    NODE_TAG_KEY: 'multus-ng',
    LAUNCH_HOOK_NAME: 'eks-multus-eni-launch',
    TERMINATE_HOOK_NAME: 'eks-multus-eni-terminate',
    POWERTOOLS_PARAMETERS_MAX_AGE: '60',
  });
});

test('priority: the --env-vars entry, then the shell, then the template; undeclared names never get through', () => {
  const fn = templateFunction(ROOT, 'SweeperFunction');
  const env = functionEnvironment(fn, { SWEEP_GRACE_MINUTES: '5', CONFIG_PATH: '/from/shell' }, {
    Parameters: { SWEEP_DRY_RUN: 'false', NODE_TAG_KEY: 'x' },
    SweeperFunction: { SWEEP_DRY_RUN: true, CONFIG_PATH: '/not/declared' },
  });
  expect(env).toEqual({ SWEEP_GRACE_MINUTES: '5', SWEEP_DRY_RUN: 'true', POWERTOOLS_SERVICE_NAME: 'eks-multus-eni', POWERTOOLS_LOG_LEVEL: 'INFO' });
  expect(declaredAnywhere(ROOT)).toEqual(new Set([...Object.keys(templateFunction(ROOT, 'LifecycleFunction').variables), 'SWEEP_GRACE_MINUTES', 'SWEEP_DRY_RUN']));
});
