import preset from "../../jest.preset.js";

// The side-by-side proof against real HAProxy and nginx (Debian's packages).
export default { ...preset, testMatch: ["<rootDir>/compat/**/*.test.ts"], testTimeout: 120_000 };
