import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The multi-host suite (test/fleet: hosts in network namespaces, each with its own systemd and
 * lit-streamd) is one long file that mostly waits on its hosts; it starts first, so it runs beside
 * the rest of the suite on one worker instead of after it.
 */
class MultiHostFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const multiHost = (file: TestSpecification) => file.moduleId.includes('/test/fleet/');
    return [...sorted.filter(multiHost), ...sorted.filter((file) => !multiHost(file))];
  }
}

export default defineConfig({
  test: {
    include: ['test/**/*.spec.ts'],
    // Each integration spec boots its own embedded systemd and server; processes, not threads,
    // so a spec's sandbox teardown runs even when another spec fails.
    pool: 'forks',
    // Integration specs mostly wait on systemd, journald and child processes, so two files at a
    // time keep a 2-core machine busy (vitest's default there is one: cores − 1). Measured on
    // such a machine, idle: 104 s with two against ~170–190 s with one.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    sequence: { sequencer: MultiHostFirst },
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // The JSON report is what .ci/run tallies into its closing "N passed, N failed" line.
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
  },
});
