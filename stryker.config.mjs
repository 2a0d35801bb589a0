// @ts-check
/**
 * Mutation testing (StrykerJS): each mutant is a small change to the code below (a condition
 * negated, a boundary moved, a statement removed); a unit spec that fails on it "kills" it. A
 * mutant no spec kills is a promise nothing checks. `npm run mutate`; the report is
 * reports/mutation/index.html (docs/testing.md says how to read it).
 *
 * Only the pure and unit-tested code, against the unit specs only (vitest.unit.config.ts): the
 * real-systemd suite takes minutes per run and would take days for every mutant.
 *
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.unit.config.ts', related: true },
  checkers: ['typescript'],
  // The project that type-checks the clients' sources too (tsconfig.json reaches only the CLI's entry).
  tsconfigFile: 'tsconfig.check.json',
  coverageAnalysis: 'perTest',
  mutate: [
    'src/core/**/*.ts',
    'src/auth/**/*.ts',
    // The journal's words: one entry, the stream of entries journalctl writes, the runs in it.
    'src/systemd/journalEntry.ts',
    'src/systemd/journalJson.ts',
    'src/systemd/journalRuns.ts',
    // The controller's rules, with unit specs against a fake systemd (test/unit/fakeSystemd.ts):
    // declaring, the queue, the job, the settle window and restart baseline, later actions, the
    // lines of a run. (The judge is src/core/actionResult.ts.)
    'src/control/streamController.ts',
    'src/control/declarations.ts',
    'src/control/unitQueue.ts',
    'src/control/actionJob.ts',
    'src/control/settleWindow.ts',
    'src/control/laterActions.ts',
    'src/control/runLines.ts',
    'src/control/journalBudget.ts',
    'src/control/enablement.ts',
    // The clients' formatting.
    'clients/typescript/src/format.ts',
    'clients/typescript/src/zoneAbbreviation.ts',
    'clients/typescript/src/stateWords.ts',
    'clients/typescript/src/cli/statusView.ts',
    'clients/typescript/src/cli/logView.ts',
    'clients/typescript/src/cli/timespan.ts',
    'clients/typescript/src/cli/since.ts',
    'clients/typescript/src/cli/lastExit.ts',
    'clients/typescript/src/cli/table.ts',
    'clients/typescript/src/cli/visible.ts',
  ],
  // The machine is shared: at most two mutants at a time (docs/testing.md).
  concurrency: 2,
  // Only mutants of code or specs changed since the last run are run again.
  incremental: true,
  incrementalFile: 'reports/mutation/incremental.json',
  reporters: ['html', 'json', 'clear-text', 'progress'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  thresholds: { high: 90, low: 85, break: null },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
