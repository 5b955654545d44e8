import preset from "../jest.preset.js";

export default {
  ...preset,
  // Image builds and container start-up take minutes on a cold engine.
  testTimeout: 600_000,
  globalSetup: "<rootDir>/test/global-setup.js",
  globalTeardown: "<rootDir>/test/global-teardown.js",
};
