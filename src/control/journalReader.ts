import { InvalidArgumentError } from '../core/errors.js';
import type { JournalEntry } from '../systemd/journalEntry.js';
import { type JournalQuery, JournalQueryError, type JournalSource, readJournal } from '../systemd/journalctl.js';
import { JournalBudget } from './journalBudget.js';

/**
 * One-shot reads of a unit's journal entries, each a journalctl within the JournalBudget: its slot
 * is taken before journalctl starts and given back once it has ended. A cursor journalctl cannot
 * seek to is the caller's `after_cursor` at fault.
 */
export class JournalReader {
  constructor(
    readonly source: JournalSource,
    readonly budget = new JournalBudget(),
  ) {}

  async *read(unit: string, query: JournalQuery, identity: string | undefined, signal?: AbortSignal): AsyncGenerator<JournalEntry> {
    const release = await this.budget.read(identity, signal);
    try {
      yield* readJournal(this.source, unit, query, signal);
    } catch (error) {
      if (error instanceof JournalQueryError) throw new InvalidArgumentError(`after_cursor: ${error.message}`);
      throw error;
    } finally {
      release();
    }
  }
}
