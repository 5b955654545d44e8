import preset from "../../jest.preset.js";

// The differential HTTP conformance suite: every case through stickyring and
// through Debian's HAProxy 2.6, in front of the same raw scripted backend.
export default {
  ...preset,
  testMatch: ["<rootDir>/conformance/**/*.test.ts"],
  testTimeout: 30_000,
};
