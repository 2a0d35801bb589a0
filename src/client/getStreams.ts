import type { ConnectionOptions } from './connection.js';
import { Service } from './service.js';
import { Stream } from './stream.js';

class StreamDirectory extends Service {
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
