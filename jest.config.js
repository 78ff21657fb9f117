// Three tiers, chosen by file name:
//   *.spec.ts       unit: fast, no root, no servers (fakes allowed)
//   *.int-spec.ts   integration: real PostgreSQL, NATS, S3 server, kernel namespaces
//   *.e2e-spec.ts   end to end: whole processes, real clients (under e2e/)
const preset = require('./jest.preset');

const tier = (displayName, testMatch, extra = {}) => ({ ...preset, displayName, testMatch, ...extra });

// End-to-end suites whose platforms make no containers (MUELLE_RUNTIME=disabled, or no agent at
// all): they touch no bridge, table or namespace of the host, so `npm test` runs them beside the
// others (CI's time limit) and without the host-state teardown, which would take the other run's
// live bridges for leftovers. A suite that starts an agent with a runtime does not belong here.
const withoutHostNetwork = [
  'e2e/chaos/crash-and-stop.e2e-spec.ts',
  'e2e/chaos/standalone-crash.e2e-spec.ts',
  'e2e/chaos/bad-input.e2e-spec.ts',
  'e2e/platform/bus-auth.e2e-spec.ts',
  'e2e/tenancy/accounts.e2e-spec.ts',
];

module.exports = {
  projects: [
    tier('unit', ['<rootDir>/{apps,libs,tools}/**/*.spec.ts']),
    tier('integration', ['<rootDir>/{apps,libs,tools}/**/*.int-spec.ts']),
    // The e2e run removes the bridges, tables and namespaces its agents left (e2e/host-state).
    tier('e2e', ['<rootDir>/e2e/**/*.e2e-spec.ts'], {
      testPathIgnorePatterns: ['/node_modules/', ...withoutHostNetwork.map((path) => `<rootDir>/${path}`)],
      globalSetup: '<rootDir>/e2e/host-state/global-setup.ts',
      globalTeardown: '<rootDir>/e2e/host-state/global-teardown.ts',
    }),
    tier('e2e-no-host-network', withoutHostNetwork.map((path) => `<rootDir>/${path}`)),
  ],
};
