/**
 * lit-stream's client library (`import { Stream, getStreams } from '@lit-stream/client'`): the API of
 * the Python SDK it replaces over the generated gRPC client, which is exported too for programs that
 * want every field.
 */
export { Stream, type StreamOptions } from './stream.js';
export { type FleetHostError, getStreams, listStreams, type StreamList, watchStreams, type WatchStreamsOptions } from './getStreams.js';
export type { StreamEvent } from './watch.js';
export type { DroppedLines, LogLine, LogsOptions } from './logs.js';
export type { StreamRun } from './runs.js';
export {
  type ActionOutcome,
  type EnableOutcome,
  Service,
  type ServiceActionStatus,
  type ServiceStatus,
  type ServiceStatusDetails,
} from './service.js';
export { LitStreamError } from './errors.js';
export { callMetadata, type ConnectionOptions, closeSharedClients, DEFAULT_ADDRESS, streamServiceClient, type TlsOptions } from './connection.js';
export * from './gen/lit/stream/v1/stream.js';
export { connectivityState as ChannelState, status as GrpcStatus } from '@grpc/grpc-js';
