// Lint as policy: no floating promises on the data path, no stray console in libraries.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'bench/results/**', 'bench/work/**', '**/*.js', '**/*.cjs'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    // The node proxy's process: importing these builtins as ES modules makes Node read every export,
    // and their lazy getters load more of Node (node:http loads undici, ~4 MB resident). Take them with
    // process.getBuiltinModule(); type imports are free. docs/architecture.md, "Proxy memory".
    files: [
      'src/proxy/**/*.ts',
      'src/bin/proxy.ts',
      'src/lib/**/*.ts',
      'src/api/wire/**/*.ts',
      'src/policy/authz/**/*.ts',
      'src/policy/routing/**/*.ts',
    ],
    ignores: ['**/*.test.ts', '**/*test-util*'],
    rules: {
      'no-restricted-imports': [
        'error',
        ...['node:http', 'node:util', 'node:fs'].map((name) => ({
          name,
          allowTypeImports: true,
          message: `use process.getBuiltinModule('${name}') in proxy code (docs/architecture.md, "Proxy memory")`,
        })),
      ],
    },
  },
  {
    files: ['test/**/*.ts', '**/*.test.ts', 'bench/**/*.ts', 'scripts/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      // node:test's test()/describe() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            {
              from: 'package',
              name: ['test', 'it', 'describe', 'suite', 'before', 'after'],
              package: 'node:test',
            },
          ],
        },
      ],
    },
  },
);
