import preset from "../../jest.preset.js";

// The TLS port against clients no one here wrote: headless Chromium, h2load, testssl.sh (Debian's packages).
export default {
  ...preset,
  testMatch: ["<rootDir>/tls-clients/**/*.test.ts"],
  testTimeout: 180_000,
};
