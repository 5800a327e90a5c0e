// The browser tests (`npm run test:browser`): a real headless Chromium against a running demo. Kept out of
// `npm test`, which stays browser-free; .ci/run installs Debian's chromium and runs these too.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/browser/**/*.browser.test.ts'],
    environment: 'node',
    testTimeout: 180_000,
    hookTimeout: 120_000,
    maxWorkers: 1,
  },
});
