/** @type {import('jest').Config} */
const swcrc = require('./swc-jest.config.js');

module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', swcrc],
    // The OTLP exporter loads node:http with import(), which needs jest's ESM support: a require()
    // in the tests (test/telemetry/otlp-export.test.ts).
    '/node_modules/@opentelemetry/otlp-exporter-base/.+\\.js$':
      '<rootDir>/test/helpers/dynamic-import-transform.js',
  },
  transformIgnorePatterns: ['/node_modules/(?!@opentelemetry/otlp-exporter-base/)'],
  globalSetup: '<rootDir>/test/helpers/global-setup.ts',
  globalTeardown: '<rootDir>/test/helpers/global-teardown.ts',
  testTimeout: 30_000,
  maxWorkers: 2,
};
