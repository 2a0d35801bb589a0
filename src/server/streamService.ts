import type { StreamController } from '../control/streamController.js';
import type { StreamView } from '../control/streamView.js';
import { parseStreamRef } from '../core/streamRef.js';
import type { StreamServiceServer } from '../../gen/lit/stream/v1/stream.js';
import { actionToProto, statusToProto, summaryToProto } from './toProto.js';
import { type CallPolicy, unaryCall } from './unaryCall.js';
import { watchStatus } from './watchStatus.js';

/** lit.stream.v1.StreamService: each handler validates, calls the controller, maps to proto. */
export function streamService(
  controller: StreamController,
  view: StreamView,
  policy: CallPolicy,
  openWatches: Set<{ end(): void }>,
): StreamServiceServer {
  return {
    listStreams: unaryCall('ListStreams', policy, async (request) => {
      const page = await controller.list(request.team, request);
      return { streams: page.items.map(summaryToProto), nextPageToken: page.nextPageToken };
    }),
    start: unaryCall('Start', policy, async (request, context) =>
      actionToProto(await controller.start(parseStreamRef(request.team, request.name), context)),
    ),
    stop: unaryCall('Stop', policy, async (request, context) =>
      actionToProto(await controller.stop(parseStreamRef(request.team, request.name), context)),
    ),
    restart: unaryCall('Restart', policy, async (request, context) =>
      actionToProto(await controller.restart(parseStreamRef(request.team, request.name), context)),
    ),
    getStatus: unaryCall('GetStatus', policy, async (request) => ({
      status: statusToProto(await controller.status(parseStreamRef(request.team, request.name))),
    })),
    watchStatus: watchStatus(view, policy, openWatches),
  };
}
