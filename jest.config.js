/**
 * Two tiers, one config: `unit` (test/unit: pure code, and activities run in MockActivityEnvironment; no Temporal
 * server, no build) and `integration` (everything else: a real dev server from the global setup, workers, and the
 * built CLI in dist/). Pick one with `jest --selectProjects unit` or `--selectProjects integration`; see the
 * test:unit and test:integration scripts.
 */
const transform = { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] };

/** @type {import('jest').Config} */
module.exports = {
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      roots: ['<rootDir>/test/unit'],
      testMatch: ['**/*.test.ts'],
      transform,
      // A unit test that hangs fails in seconds, not after the integration tier's minutes.
      setupFilesAfterEnv: ['<rootDir>/test/setup/unit-timeout.ts'],
    },
    {
      displayName: 'integration',
      testEnvironment: 'node',
      roots: ['<rootDir>/test'],
      testMatch: ['**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/unit/'],
      transform,
      globalSetup: '<rootDir>/test/setup/global-setup.ts',
      globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
    },
  ],
  // Generous: two test files share 2 cores, and several integration tests run whole dataset runs. (Jest reads the
  // test timeout from here only, not per project: the unit tier sets its own in its setup file.)
  testTimeout: 300000,
  maxWorkers: 2,
  verbose: true,
};
