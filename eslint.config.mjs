// typescript-eslint with type information (`npm run lint:ts`, in .ci/run): the rules that need
// types to see a bug, foremost a promise nobody awaits. An unawaited rejection ends a Node process
// (--unhandled-rejections=throw), and a server must not end because one request failed.
//
// recommendedTypeChecked, less the rules below that would churn correct code without finding
// bugs; style is tsc's and the reviewers' job, not this file's.
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  {
    // Generated code (npm run generate), build output and the Python client are not ours to lint.
    ignores: ['dist/', 'gen/', 'clients/typescript/dist/', 'clients/typescript/src/gen/', 'clients/python/', 'node_modules/'],
  },
  {
    files: ['src/**/*.ts', 'clients/typescript/src/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      // The typecheck's own project (tsconfig.check.json covers src, the client, test and bench):
      // one program, the types tsc checks.
      parserOptions: { project: './tsconfig.check.json', tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // The point of this file. `void` marks a promise whose rejection is impossible or handled
      // inside (say which in a comment when it is not obvious); anything else is awaited or caught.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',

      // grpc-js client methods travel with their client and are called as `method.call(client, …)`
      // (the test harness's rpc(), the TypeScript client's call()): the rule cannot see the
      // receiver travel alongside and flags those ~200 correct calls.
      '@typescript-eslint/unbound-method': 'off',
      // `async` without `await` is how a handler or a test's fake states that it returns a promise
      // and turns a throw into a rejection (grpc handlers, StreamBackend fakes); rewriting those as
      // Promise.resolve() would read worse and find nothing.
      '@typescript-eslint/require-await': 'off',
      // Passing on what was caught (an AbortSignal's reason, a worker's failure) is fine; throwing or
      // rejecting with a literal that is no Error is what these rules are for.
      '@typescript-eslint/only-throw-error': ['error', { allowThrowingAny: true, allowThrowingUnknown: true }],
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingAny: true, allowThrowingUnknown: true }],
      // A leading underscore marks what is unused on purpose (a destructured field left out, a
      // callback's unneeded parameter).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true },
      ],
      // `let { a, b } = …` where only `a` is reassigned later stays one declaration.
      'prefer-const': ['error', { destructuring: 'all' }],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // vitest's asymmetric matchers (expect.any, expect.stringContaining, expect.toSatisfy) are
      // typed `any`, and specs read JSON lines and certificates they wrote themselves: in specs
      // these rules flag the matchers, not unchecked input. src/, the client and bench keep them.
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
);
