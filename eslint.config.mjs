import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

// Layering, enforced: apps never import apps; format/contract libs stay pure (no Nest, no I/O drivers);
// only the agent and the builder may use libs/isolation; child processes only inside libs/isolation.
const ioDrivers = ['@nestjs/*', 'typeorm', 'pg', 'minio', 'nats', '@electric-sql/*'];
const depConstraints = [
  { sourceTag: 'type:app', notDependOnLibsWithTags: ['type:app'] },
  { sourceTag: 'no-isolation', notDependOnLibsWithTags: ['type:isolation'] },
  { sourceTag: 'type:contract', onlyDependOnLibsWithTags: ['type:contract'] },
  { sourceTag: 'type:format', onlyDependOnLibsWithTags: ['type:format', 'type:contract'] },
  { sourceTag: 'type:infra', onlyDependOnLibsWithTags: ['type:infra', 'type:contract', 'type:format'] },
  { sourceTag: 'type:driver', onlyDependOnLibsWithTags: ['type:contract', 'type:format'] },
  { sourceTag: 'type:isolation', onlyDependOnLibsWithTags: ['type:contract', 'type:format'] },
  { sourceTag: 'type:policy', onlyDependOnLibsWithTags: ['type:contract', 'type:format', 'type:policy'] },
];
const boundaries = (allow = []) => ['error', { allow, depConstraints }];
const noChildProcess = { name: 'child_process', message: 'spawn processes through libs/isolation' };
const noChildProcessNode = { name: 'node:child_process', message: 'spawn processes through libs/isolation' };
const noAppImports = { group: ['@muelle/app-*'], message: 'apps never import each other; only the all-in-one hosts them' };

export default [
  { ignores: ['**/node_modules/**', '**/dist/**', 'tmp/**', '**/*.js', '**/*.mjs', 'libs/isolation/native/**'] },
  ...tseslint.configs.recommended,
  { plugins: { '@nx': nx } },
  {
    files: ['**/*.ts', '**/*.tsx'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@nx/enforce-module-boundaries': boundaries(),
    },
  },
  {
    files: ['libs/contracts/src/**/*.ts', 'libs/oci/src/**/*.ts', 'libs/images/src/**/*.ts', 'libs/dockerfile/src/**/*.ts', 'libs/authz/src/**/*.ts'],
    ignores: ['**/*.spec.ts', '**/*.int-spec.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ioDrivers, message: 'format and contract libs stay free of Nest and I/O drivers' }] }] },
  },
  {
    files: ['apps/**/*.ts', 'libs/**/*.ts'],
    ignores: ['libs/isolation/**', 'libs/testing/**', 'apps/all-in-one/**', '**/*.spec.ts', '**/*.int-spec.ts', '**/test/**', '**/testing/**'],
    rules: { 'no-restricted-imports': ['error', { paths: [noChildProcess, noChildProcessNode], patterns: [noAppImports] }] },
  },
  // The all-in-one is the one place that hosts the five services in one process.
  { files: ['apps/all-in-one/**/*.ts'], rules: { '@nx/enforce-module-boundaries': boundaries(['@muelle/app-*']) } },
  // Tests may use the shared test helpers (real servers, proxies, processes).
  { files: ['**/*.spec.ts', '**/*.int-spec.ts', '**/testing/**/*.ts'], rules: { '@nx/enforce-module-boundaries': boundaries(['@muelle/testing']) } },
];
