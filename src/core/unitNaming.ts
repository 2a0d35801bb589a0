import type { StreamRef } from './streamRef.js';
import { isValidStreamName, isValidTeam } from './streamRef.js';

export const DEFAULT_UNIT_PREFIX = 'lit-stream-';

const PREFIX = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/**
 * The one place that knows how streams map to systemd unit names:
 * stream `bitcoin` of team `contoso` is `<prefix>contoso@bitcoin.service`, an instance of the team's
 * template `<prefix>contoso@.service` (systemd.unit(5), "instance" and "template").
 */
export class UnitNaming {
  constructor(readonly prefix: string = DEFAULT_UNIT_PREFIX) {
    if (!PREFIX.test(prefix)) {
      throw new Error(`unit prefix ${JSON.stringify(prefix)} is invalid: use 1-64 of A-Z, a-z, 0-9, '_' and '-'`);
    }
  }

  unitOf(ref: StreamRef): string {
    return `${this.prefix}${ref.team}@${ref.name}.service`;
  }

  templateOf(team: string): string {
    return `${this.prefix}${team}@.service`;
  }

  /** A glob for ListUnit(File)sByPatterns matching every instance of the team's template. */
  teamPattern(team: string): string {
    return `${this.prefix}${team}@*.service`;
  }

  /** A glob for ListUnit(File)sByPatterns matching every stream unit of every team (and more: see streamOf). */
  everyStreamPattern(): string {
    return `${this.prefix}*@*.service`;
  }

  /** The stream a unit name stands for, or undefined if it is not a valid stream unit name. */
  streamOf(unit: string): StreamRef | undefined {
    if (!unit.startsWith(this.prefix)) return undefined;
    const at = unit.indexOf('@', this.prefix.length);
    if (at < 0) return undefined;
    const team = unit.slice(this.prefix.length, at);
    if (!isValidTeam(team)) return undefined;
    const name = this.streamNameOf(team, unit);
    return name === undefined ? undefined : { team, name };
  }

  /** The team whose template a unit name is (`<prefix><team>@.service`), or undefined. */
  teamOfTemplate(unit: string): string | undefined {
    const tail = '@.service';
    if (!unit.startsWith(this.prefix) || !unit.endsWith(tail)) return undefined;
    const team = unit.slice(this.prefix.length, unit.length - tail.length);
    return isValidTeam(team) ? team : undefined;
  }

  /**
   * Whether a unit file of this name can change which streams are declared: a stream's own unit
   * file, or a team's template (an instance whose template is gone is `bad` to systemd, and not
   * declared).
   */
  declaresStreams(unit: string): boolean {
    return this.streamOf(unit) !== undefined || this.teamOfTemplate(unit) !== undefined;
  }

  /** The stream name of one of the team's unit names, or undefined if it is not a valid stream unit. */
  streamNameOf(team: string, unit: string): string | undefined {
    const head = `${this.prefix}${team}@`;
    const tail = '.service';
    if (!unit.startsWith(head) || !unit.endsWith(tail)) return undefined;
    const name = unit.slice(head.length, unit.length - tail.length);
    return isValidStreamName(name) ? name : undefined;
  }
}
