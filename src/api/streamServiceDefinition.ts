import { StreamServiceService, type WatchStatusResponse } from '../../gen/lit/stream/v1/stream.js';
import { decodeLogsRequest } from './logsRequest.js';

/**
 * The generated StreamService definition, except that WatchStatus also accepts messages already
 * encoded (a Buffer, see watchEncoding.ts) and sends them unchanged, and Logs decodes a `since` of
 * any size (logsRequest.ts) so that its handler can refuse it with INVALID_ARGUMENT.
 */
export function streamServiceDefinition(): typeof StreamServiceService {
  const watch = StreamServiceService.watchStatus;
  return {
    ...StreamServiceService,
    logs: { ...StreamServiceService.logs, requestDeserialize: decodeLogsRequest },
    watchStatus: {
      ...watch,
      responseSerialize: (value: WatchStatusResponse | Buffer): Buffer =>
        Buffer.isBuffer(value) ? value : watch.responseSerialize(value),
    },
  };
}
