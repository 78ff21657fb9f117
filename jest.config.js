// Three tiers, chosen by file name:
//   *.spec.ts       unit: fast, no root, no servers (fakes allowed)
//   *.int-spec.ts   integration: real PostgreSQL, NATS, S3 server, kernel namespaces
//   *.e2e-spec.ts   end to end: whole processes, real clients (under e2e/)
const preset = require('./jest.preset');

const tier = (displayName, testMatch, extra = {}) => ({ ...preset, displayName, testMatch, ...extra });

module.exports = {
  projects: [
    tier('unit', ['<rootDir>/{apps,libs,tools}/**/*.spec.ts']),
    tier('integration', ['<rootDir>/{apps,libs,tools}/**/*.int-spec.ts']),
    // The e2e run removes the bridges, tables and namespaces its agents left (e2e/host-state).
    tier('e2e', ['<rootDir>/e2e/**/*.e2e-spec.ts'], {
      globalSetup: '<rootDir>/e2e/host-state/global-setup.ts',
      globalTeardown: '<rootDir>/e2e/host-state/global-teardown.ts',
    }),
  ],
};
