import { defineConfig } from 'vitest/config';

/**
 * The unit specs alone: pure code and fakes, no systemd, no server. What `npm run mutate` runs
 * against each mutant (stryker.config.mjs); never the real-systemd suite, which would take hours
 * per mutation run and proves other things.
 */
export default defineConfig({
  test: {
    include: ['test/unit/**/*.spec.ts'],
    pool: 'threads',
    // As the main config: some unit specs run a scenario many times (memory per action, fuzzing).
    testTimeout: 30_000,
    // Not the specs that measure the heap over tens of thousands of runs: under Stryker's
    // instrumentation they time out, and no mutant is killed by a memory bound alone.
    testNamePattern: /^(?!.*keeps nothing per action)/,
  },
});
