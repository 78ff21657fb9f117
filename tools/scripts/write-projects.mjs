// Writes apps/*/project.json and libs/*/project.json from one table, so tags stay consistent.
import { mkdirSync, writeFileSync } from 'node:fs';

const projects = {
  'apps/api': ['type:app', 'scope:api', 'no-isolation'],
  'apps/registry': ['type:app', 'scope:registry', 'no-isolation'],
  'apps/metadata': ['type:app', 'scope:metadata', 'no-isolation'],
  'apps/builder': ['type:app', 'scope:builder'],
  'apps/agent': ['type:app', 'scope:agent'],
  'apps/all-in-one': ['type:app', 'scope:all-in-one'],
  'apps/cli': ['type:app', 'scope:cli', 'no-isolation'],
  'libs/contracts': ['type:contract', 'no-isolation'],
  'libs/oci': ['type:format', 'no-isolation'],
  'libs/dockerfile': ['type:format', 'no-isolation'],
  'libs/bus': ['type:infra', 'no-isolation'],
  'libs/service-kit': ['type:infra', 'no-isolation'],
  'libs/storage': ['type:driver', 'no-isolation'],
  'libs/registry-client': ['type:driver', 'no-isolation'],
  'libs/isolation': ['type:isolation'],
  'libs/testing': ['type:testing'],
};

for (const [root, tags] of Object.entries(projects)) {
  const name = root.split('/')[1];
  const isApp = root.startsWith('apps/');
  const targets = {
    test: { executor: 'nx:run-commands', options: { command: `npx jest --selectProjects unit integration -- ${root}` } },
    lint: { executor: 'nx:run-commands', options: { command: `npx eslint ${root}` } },
  };
  if (isApp) targets.serve = { executor: 'nx:run-commands', options: { command: `npm run build && node dist/${root}/src/main.js` } };
  mkdirSync(`${root}/src`, { recursive: true });
  writeFileSync(
    `${root}/project.json`,
    JSON.stringify({ name, $schema: '../../node_modules/nx/schemas/project-schema.json', sourceRoot: `${root}/src`, projectType: isApp ? 'application' : 'library', tags, targets }, null, 2) + '\n',
  );
}
