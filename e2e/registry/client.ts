// The test client lives with the registry so its integration tests can use it too.
export * from '../../apps/registry/src/testing/oci-test-client';
