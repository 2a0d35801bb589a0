/**
 * The catalog ids (`MESSAGE_ID=`) of the structured entries lit-stream reads, as systemd defines
 * them in sd-messages.h and documents them in its message catalog (`journalctl --catalog`). Each
 * was checked against what systemd 252 writes (a user manager's and journald's own entries).
 */
export const MESSAGE_IDS = {
  /** "Starting <unit>...": a start job begins; the first entry carrying the new run's invocation id. */
  unitStarting: '7d4958e842da4a758f6c1cdc7b36dcc5',
  /** "Started <unit>." (JOB_RESULT=done). */
  unitStarted: '39f53479d3a045ac8e11786248231fbf',
  /** "Failed to start <unit>." (JOB_RESULT=failed). */
  unitFailed: 'be02cf6855d2428ba40df7e9d022f03d',
  /** "Stopping <unit>...". */
  unitStopping: 'de5b426a63be47a7b6ac3eaac82e2f6f',
  /** "Stopped <unit>." (a stop job, or the stop half of a restart, is done). */
  unitStopped: '9d1aaa27d60140bd96365438aad20286',
  /**
   * "<unit>: Deactivated successfully.": the run ended with result `success`. A user manager logs
   * it at debug level only (unit_log_success()), so it is not in the journal for user units.
   */
  unitSuccess: '7ad2d189f7e94e70a38c781354912448',
  /** "<unit>: Failed with result '<result>'." with UNIT_RESULT=. Logged at warning for every failure. */
  unitFailureResult: 'd9b373ed55a64feb8242e02dbe79a49c',
  /**
   * "<unit>: Main process exited, code=…, status=…" (or "Control process exited") with EXIT_CODE=,
   * EXIT_STATUS= and COMMAND=. Logged at notice when the process failed, at debug when it exited
   * cleanly.
   */
  unitProcessExit: '98e322203f7a4ed290d09fe03c09fe15',
  /** "<unit>: Scheduled restart job, restart counter is at N." with N_RESTARTS=. */
  unitRestartScheduled: '5eb03494b6584870a536b337290809b3',
  /** systemd-coredump's "Process N (…) of user N dumped core." with COREDUMP_UNIT=/COREDUMP_USER_UNIT=. */
  coredump: 'fc2e22bc6ee647b6b90729ab34a250b1',
  /** journald's "Suppressed N messages from <unit>" with N_DROPPED= and OBJECT_* fields of the sender. */
  journalDropped: 'a596d6fe7bfa4994828e72309e95d61e',
} as const;
