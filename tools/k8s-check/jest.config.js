import preset from "../../jest.preset.js";

export default {
  ...preset,
  // Loading and compiling the schemas, and each kubectl render, take about a second.
  testTimeout: 30_000,
};
