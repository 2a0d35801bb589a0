import { callMetadata, type ConnectionOptions } from './connection.js';
import { Service } from './service.js';
import { Stream } from './stream.js';
import { type StreamEvent, streamEvents } from './watch.js';

class StreamDirectory extends Service {
  watch(team: string): AsyncGenerator<StreamEvent> {
    return streamEvents(() => this.client.watchStatus({ team, name: '' }, callMetadata(this.options)));
  }

  async list(team: string): Promise<Stream[]> {
    const streams: Stream[] = [];
    let pageToken = '';
    do {
      const page = await this.call(this.client.listStreams, { team, pageSize: 1000, pageToken });
      for (const summary of page.streams) streams.push(new Stream(summary.team, summary.name, this.options));
      pageToken = page.nextPageToken;
    } while (pageToken !== '');
    return streams;
  }
}

/**
 * The team's streams, as the Python SDK's get_streams:
 * `await getStreams('contoso')` → `[Stream(team='contoso', name='bitcoin')]`.
 */
export function getStreams(team: string, options: ConnectionOptions = {}): Promise<Stream[]> {
  return new StreamDirectory(options).list(team);
}

/**
 * Every status change of the team's streams, after the current status of each, including streams
 * declared later: `for await (const { kind, status } of watchStreams('contoso')) ...`.
 */
export function watchStreams(team: string, options: ConnectionOptions = {}): AsyncGenerator<StreamEvent> {
  return new StreamDirectory(options).watch(team);
}
