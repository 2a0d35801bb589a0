import { StreamServiceService, type WatchStatusResponse } from '../../gen/lit/stream/v1/stream.js';

/**
 * The generated StreamService definition, except that WatchStatus also accepts messages already
 * encoded (a Buffer, see watchEncoding.ts) and sends them unchanged.
 */
export function streamServiceDefinition(): typeof StreamServiceService {
  const watch = StreamServiceService.watchStatus;
  return {
    ...StreamServiceService,
    watchStatus: {
      ...watch,
      responseSerialize: (value: WatchStatusResponse | Buffer): Buffer =>
        Buffer.isBuffer(value) ? value : watch.responseSerialize(value),
    },
  };
}
