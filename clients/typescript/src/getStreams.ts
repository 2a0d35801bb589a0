import { callMetadata, type ConnectionOptions } from './connection.js';
import { LitStreamError } from './errors.js';
import { Service } from './service.js';
import { Stream } from './stream.js';
import { type StreamEvent, streamEvents } from './watch.js';

/** A host that did not answer (or answered with an error) a call a fleet gateway made to every host. */
export interface FleetHostError {
  readonly host: string;
  /** What it answered, or why it could not be asked, as a LitStreamError (code, codeName, details). */
  readonly error: LitStreamError;
}

/** A team's streams, and the hosts of a fleet whose streams are missing from them. */
export interface StreamList {
  readonly streams: Stream[];
  /** Empty when every host answered (and always from a single lit-streamd). */
  readonly hostErrors: readonly FleetHostError[];
}

class StreamDirectory extends Service {
  watch(team: string, host?: string, onHostLost?: (lost: FleetHostError) => void): AsyncGenerator<StreamEvent> {
    return streamEvents(() => this.client.watchStatus({ team, name: '', ...(host ? { host } : {}) }, callMetadata(this.options)), onHostLost);
  }

  /**
   * Every page of the team's streams. Each Stream keeps its host when the list is a fleet's (rows
   * of several hosts, or hosts that did not answer), so its calls go straight to that host; the
   * streams of a single lit-streamd (which names its host too) print and act as they always did.
   */
  async list(team: string, host?: string): Promise<StreamList> {
    const rows: { team: string; name: string; host: string }[] = [];
    const hostErrors = new Map<string, FleetHostError>();
    let pageToken = '';
    do {
      const page = await this.call(this.client.listStreams, { team, pageSize: 1000, pageToken, ...(host ? { host } : {}) });
      rows.push(...page.streams);
      for (const { host: name, code, message } of page.hostErrors) hostErrors.set(name, { host: name, error: new LitStreamError(code, message) });
      pageToken = page.nextPageToken;
    } while (pageToken !== '');
    const fleet = new Set(rows.map((row) => row.host)).size > 1 || hostErrors.size > 0 || host !== undefined;
    const streams = rows.map((row) => new Stream(row.team, row.name, { ...this.options, ...(fleet && row.host ? { host: row.host } : {}) }));
    return { streams, hostErrors: [...hostErrors.values()] };
  }
}

/**
 * The team's streams, as the Python SDK's get_streams:
 * `await getStreams('contoso')` → `[Stream(team='contoso', name='bitcoin')]`. Through a fleet
 * gateway, the streams of every host that answered, each naming its host
 * (`Stream(team='contoso', name='bitcoin', host='feed-2')`); listStreams() says which did not answer.
 */
export async function getStreams(team: string, options: ConnectionOptions = {}): Promise<Stream[]> {
  return (await new StreamDirectory(options).list(team)).streams;
}

/**
 * The team's streams (of one `host`, when given) and, through a fleet gateway, the hosts that did
 * not answer: their streams are missing, the rest are complete.
 */
export function listStreams(team: string, options: ConnectionOptions & { readonly host?: string } = {}): Promise<StreamList> {
  const { host, ...connection } = options;
  return new StreamDirectory(connection).list(team, host);
}

/** What watchStreams() takes beyond the connection. */
export interface WatchStreamsOptions extends ConnectionOptions {
  /** Only this host's streams (through a fleet gateway). */
  readonly host?: string;
  /**
   * Through a fleet gateway: told when a host stops answering (or had not answered when the watch
   * began). What was said of its streams is no longer current; when it answers again, each of its
   * streams comes as CHANGED.
   */
  readonly onHostLost?: (lost: FleetHostError) => void;
}

/**
 * Every status change of the team's streams (of one `host`, when given), after the current status
 * of each, including streams declared later:
 * `for await (const { kind, status } of watchStreams('contoso')) ...`.
 */
export function watchStreams(team: string, options: WatchStreamsOptions = {}): AsyncGenerator<StreamEvent> {
  const { host, onHostLost, ...connection } = options;
  return new StreamDirectory(connection).watch(team, host, onHostLost);
}
