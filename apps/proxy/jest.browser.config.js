import preset from "../../jest.preset.js";

// The dashboard in real headless Chromium (Debian's `chromium`, driven by playwright-core).
export default { ...preset, testMatch: ["<rootDir>/browser/**/*.test.ts"], testTimeout: 60_000 };
