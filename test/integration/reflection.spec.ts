import { Client, credentials, Metadata, type ClientDuplexStream, type ServiceError } from '@grpc/grpc-js';
import {
  create,
  createFileRegistry,
  fromBinary,
  toBinary,
  toJson,
  type DescEnum,
  type DescMessage,
  type DescMethod,
  type DescService,
  type FileRegistry,
  type Message,
} from '@bufbuild/protobuf';
import {
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
  type FileDescriptorProto,
} from '@bufbuild/protobuf/wkt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as v1 from '../../gen/grpc/reflection/v1/reflection.js';
import * as v1alpha from '../../gen/grpc/reflection/v1alpha/reflection.js';
import { FIXTURE_UNITS, type Harness, startHarness } from './harness.js';

/**
 * Server reflection as a strict client sees it. grpcurl knows nothing of our protos: it asks the
 * reflection service for file descriptors, links them (failing on any import or type it cannot
 * resolve), and builds, sends and prints messages from them alone. This spec does the same with
 * @bufbuild/protobuf, whose createFileRegistry is such a strict linker, for both reflection
 * versions. (@grpc/reflection 1.0.x sends empty `dependency` lists, which grpcurl rejects with
 * "cannot resolve type google.protobuf.Timestamp".)
 */

let h: Harness;
let raw: Client;
beforeAll(async () => {
  // One stream that can be enabled: a symlink outside the configuration directory to a template with [Install].
  h = await startHarness({
    ...FIXTURE_UNITS,
    'lit-stream-boot@.service': '[Service]\nType=exec\nExecStart=/bin/sleep infinity\n[Install]\nWantedBy=default.target\n',
    'lit-stream-boot@ticker.service': { link: 'lit-stream-boot@.service', in: 'data' },
  });
  raw = new Client(h.address, credentials.createInsecure());
});
afterAll(async () => {
  raw?.close();
  await h?.stop();
});

const SERVICES = [
  'lit.stream.v1.StreamService',
  'grpc.health.v1.Health',
  'grpc.reflection.v1.ServerReflection',
  'grpc.reflection.v1alpha.ServerReflection',
];
const NOT_FOUND = 5;
const DEADLINE_MS = 20_000;

type ReflectionRequest = v1.ServerReflectionRequest;
type ReflectionResponse = v1.ServerReflectionResponse;
type ReflectionClient = v1.ServerReflectionClient;

/** One ServerReflectionInfo stream: `ask` sends a request and resolves with the next response. */
class ReflectionSession {
  private readonly call: ClientDuplexStream<ReflectionRequest, ReflectionResponse>;
  private readonly waiting: { resolve: (r: ReflectionResponse) => void; reject: (e: Error) => void }[] = [];
  private failure: Error | undefined;

  constructor(private readonly client: ReflectionClient) {
    this.call = client.serverReflectionInfo({ deadline: Date.now() + 60_000 });
    this.call.on('data', (response: ReflectionResponse) => this.waiting.shift()?.resolve(response));
    const fail = (error: Error) => {
      this.failure = error;
      for (const waiter of this.waiting.splice(0)) waiter.reject(error);
    };
    this.call.on('error', fail);
    this.call.on('end', () => fail(new Error('reflection stream ended')));
  }

  ask(request: Partial<ReflectionRequest>): Promise<ReflectionResponse> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.call.write({ host: '', ...request });
    });
  }

  /** The FileDescriptorProtos answering a file request, decoded; fails on an error_response. */
  async files(request: Partial<ReflectionRequest>): Promise<FileDescriptorProto[]> {
    const response = await this.ask(request);
    expect(response.errorResponse, JSON.stringify(response.errorResponse)).toBeUndefined();
    const bytes = response.fileDescriptorResponse?.fileDescriptorProto ?? [];
    expect(bytes.length).toBeGreaterThan(0);
    return bytes.map((b) => fromBinary(FileDescriptorProtoSchema, new Uint8Array(b)));
  }

  /** Links the answer to a file request as grpcurl would: throws on anything unresolved. */
  async registry(request: Partial<ReflectionRequest>): Promise<FileRegistry> {
    return link(await this.files(request));
  }

  close(): void {
    this.call.end();
    this.client.close();
  }
}

/**
 * Links FileDescriptorProtos as grpcurl does, throwing on any import or type it cannot resolve.
 * The server sends the requested file first and its dependencies after it (as grpc-go and
 * grpc-java do); createFileRegistry wants a set in dependency order, as protoc writes it, so the
 * files are put in that order first. Nothing is added: a missing import still fails the link.
 */
function link(files: FileDescriptorProto[]): FileRegistry {
  const byName = new Map(files.map((file) => [file.name, file]));
  const ordered: FileDescriptorProto[] = [];
  const visit = (file: FileDescriptorProto) => {
    if (ordered.includes(file)) return;
    for (const dependency of file.dependency) {
      const found = byName.get(dependency);
      if (found) visit(found);
    }
    ordered.push(file);
  };
  files.forEach(visit);
  return createFileRegistry(create(FileDescriptorSetSchema, { file: ordered }));
}

/** A unary call made from descriptors alone, over a raw grpc-js client. */
function callDynamic(method: DescMethod, init: Record<string, unknown>): Promise<Message> {
  const request = create(method.input, init);
  return new Promise((resolve, reject) => {
    raw.makeUnaryRequest(
      `/${method.parent.typeName}/${method.name}`,
      (message: Message) => Buffer.from(toBinary(method.input, message)),
      (bytes: Buffer) => fromBinary(method.output, new Uint8Array(bytes)),
      request,
      new Metadata(),
      { deadline: Date.now() + DEADLINE_MS },
      (error: ServiceError | null, response?: Message) => (error || !response ? reject(error ?? new Error('no error and no response')) : resolve(response)),
    );
  });
}

/** Opens a server-streaming call and resolves with its first `count` messages, then cancels it. */
function firstStreamed(method: DescMethod, init: Record<string, unknown>, count: number): Promise<Message[]> {
  const call = raw.makeServerStreamRequest(
    `/${method.parent.typeName}/${method.name}`,
    (message: Message) => Buffer.from(toBinary(method.input, message)),
    (bytes: Buffer) => fromBinary(method.output, new Uint8Array(bytes)),
    create(method.input, init),
    new Metadata(),
    { deadline: Date.now() + DEADLINE_MS },
  );
  return new Promise((resolve, reject) => {
    const received: Message[] = [];
    call.on('data', (message: Message) => {
      received.push(message);
      if (received.length === count) {
        call.cancel();
        resolve(received);
      }
    });
    call.on('error', (error: ServiceError) => {
      if (received.length < count) reject(error);
    });
  });
}

function enumValue(desc: DescEnum, name: string): number {
  const value = desc.values.find((v) => v.name === name);
  expect(value, `${desc.typeName} has ${name}`).toBeDefined();
  return value!.number;
}

function enumOf(message: DescMessage, field: string): DescEnum {
  const desc = message.fields.find((f) => f.name === field);
  expect(desc?.fieldKind, `${message.typeName}.${field} is an enum field`).toBe('enum');
  return (desc as { enum: DescEnum }).enum;
}

function service(registry: FileRegistry, name: string): DescService {
  const desc = registry.getService(name);
  expect(desc, `${name} in the linked registry`).toBeDefined();
  return desc!;
}

const read = (message: Message, field: string) => (message as unknown as Record<string, unknown>)[field];

describe.each([
  { version: 'v1', Client: v1.ServerReflectionClient },
  { version: 'v1alpha', Client: v1alpha.ServerReflectionClient },
])('server reflection $version, as grpcurl uses it', ({ Client: ReflectionClientCtor }) => {
  let session: ReflectionSession;
  beforeAll(() => {
    session = new ReflectionSession(new ReflectionClientCtor(h.address, credentials.createInsecure()));
  });
  afterAll(() => session?.close());

  it('lists exactly the services the server serves', async () => {
    const response = await session.ask({ listServices: '' });
    expect(response.errorResponse).toBeUndefined();
    const names = response.listServicesResponse?.service.map((s) => s.name) ?? [];
    expect([...names].sort()).toEqual([...SERVICES].sort());
  });

  it.each(SERVICES)('describes %s in files a strict linker accepts, every method resolving', async (name) => {
    const registry = await session.registry({ fileContainingSymbol: name });
    const desc = service(registry, name);
    expect(desc.methods.length).toBeGreaterThan(0);
    for (const method of desc.methods) {
      expect(registry.getMessage(method.input.typeName), `${method.name} input`).toBe(method.input);
      expect(registry.getMessage(method.output.typeName), `${method.name} output`).toBe(method.output);
    }
  });

  it('sends every file with its dependency list, so StreamStatus.started links to google.protobuf.Timestamp', async () => {
    const files = await session.files({ fileContainingSymbol: 'lit.stream.v1.StreamService' });
    const stream = files.find((f) => f.name === 'lit/stream/v1/stream.proto');
    expect(stream?.dependency).toContain('google/protobuf/timestamp.proto');
    expect(files.map((f) => f.name)).toContain('google/protobuf/timestamp.proto');

    const status = link(files).getMessage('lit.stream.v1.StreamStatus');
    const started = status?.fields.find((f) => f.name === 'started');
    expect(started?.fieldKind).toBe('message');
    expect(started?.message?.typeName).toBe('google.protobuf.Timestamp');
    expect(started?.message?.kind).toBe('message');

    // The linker is strict: what @grpc/reflection 1.0.x sends (no dependency lists) is rejected.
    expect(() => link(files.map((f) => ({ ...f, dependency: [] })))).toThrow(/google\.protobuf\.Timestamp/);
  });

  it('answers file_by_filename for lit/stream/v1/stream.proto, with its import of timestamp.proto', async () => {
    const files = await session.files({ fileByFilename: 'lit/stream/v1/stream.proto' });
    expect(files[0]?.name).toBe('lit/stream/v1/stream.proto');
    expect(files[0]?.dependency).toContain('google/protobuf/timestamp.proto');
    expect(link(files).getService('lit.stream.v1.StreamService')).toBeDefined();
  });

  it.each([
    ['a method', 'lit.stream.v1.StreamService.GetStatus', (r: FileRegistry) =>
      r.getService('lit.stream.v1.StreamService')?.methods.find((m) => m.name === 'GetStatus')],
    ['a message', 'lit.stream.v1.StartRequest', (r: FileRegistry) => r.getMessage('lit.stream.v1.StartRequest')],
    ['an enum', 'lit.stream.v1.ActiveState', (r: FileRegistry) => r.getEnum('lit.stream.v1.ActiveState')],
    ['a field', 'lit.stream.v1.StreamStatus.started', (r: FileRegistry) =>
      r.getMessage('lit.stream.v1.StreamStatus')?.fields.find((f) => f.name === 'started')],
    ['an enum value', 'lit.stream.v1.ActiveState.ACTIVE_STATE_ACTIVE', (r: FileRegistry) =>
      r.getEnum('lit.stream.v1.ActiveState')?.values.find((v) => v.name === 'ACTIVE_STATE_ACTIVE')],
  ] as const)('answers file_containing_symbol for %s (%s) with stream.proto', async (_kind, symbol, find) => {
    const files = await session.files({ fileContainingSymbol: symbol });
    expect(files[0]?.name).toBe('lit/stream/v1/stream.proto');
    expect(find(link(files))).toBeDefined();
  });

  it('answers an unknown symbol with NOT_FOUND and keeps the stream usable', async () => {
    expect((await session.ask({ fileContainingSymbol: 'lit.stream.v1.StreamStatus.no_such_field' })).errorResponse?.errorCode).toBe(
      NOT_FOUND,
    );
    const response = await session.ask({ fileContainingSymbol: 'lit.stream.v1.NoSuchThing' });
    expect(response.fileDescriptorResponse).toBeUndefined();
    expect(response.errorResponse?.errorCode).toBe(NOT_FOUND);
    expect(response.errorResponse?.errorMessage).toContain('lit.stream.v1.NoSuchThing');

    const unknownFile = await session.ask({ fileByFilename: 'no/such/file.proto' });
    expect(unknownFile.errorResponse?.errorCode).toBe(NOT_FOUND);

    const next = await session.ask({ listServices: '' });
    expect(next.listServicesResponse?.service.map((s) => s.name)).toContain('lit.stream.v1.StreamService');
    expect((await session.files({ fileContainingSymbol: 'lit.stream.v1.StreamService' })).length).toBeGreaterThan(0);
  });

  describe('calling StreamService from reflected descriptors alone', () => {
    let registry: FileRegistry;
    let streamService: DescService;
    const method = (name: string) => {
      const m = streamService.methods.find((candidate) => candidate.name === name);
      expect(m, `StreamService.${name}`).toBeDefined();
      return m!;
    };
    const bitcoin = { team: 'contoso', name: 'bitcoin' };
    const called = new Set<string>();
    const call = async (name: string, init: Record<string, unknown>) => {
      called.add(name);
      const m = method(name);
      const response = await callDynamic(m, init);
      expect(response.$typeName).toBe(m.output.typeName);
      // grpcurl prints responses as JSON: that must work from the reflected descriptors too.
      const json = toJson(m.output, response, { registry }) as Record<string, unknown>;
      return { response, json, output: m.output };
    };
    const expectSuccess = async (name: string) => {
      const { response, json, output } = await call(name, bitcoin);
      expect(read(response, 'status')).toBe(enumValue(enumOf(output, 'status'), 'ACTION_STATUS_SUCCESS'));
      expect(json.status).toBe('ACTION_STATUS_SUCCESS');
      return json;
    };

    beforeAll(async () => {
      registry = await session.registry({ fileContainingSymbol: 'lit.stream.v1.StreamService' });
      streamService = service(registry, 'lit.stream.v1.StreamService');
    });

    it('ListStreams lists contoso\'s streams, bitcoin among them', async () => {
      const { response, json } = await call('ListStreams', { team: 'contoso' });
      const streams = read(response, 'streams') as Message[];
      expect(streams.map((s) => read(s, 'name'))).toContain('bitcoin');
      expect(streams.every((s) => s.$typeName === 'lit.stream.v1.StreamSummary')).toBe(true);
      expect((json.streams as { name: string; unit: string }[]).find((s) => s.name === 'bitcoin')).toMatchObject({
        team: 'contoso',
        unit: 'lit-stream-contoso@bitcoin.service',
      });
    });

    it('GetStatus reports bitcoin', async () => {
      const { response, json } = await call('GetStatus', bitcoin);
      const status = read(response, 'status') as Message;
      expect(status.$typeName).toBe('lit.stream.v1.StreamStatus');
      expect(read(status, 'unit')).toBe('lit-stream-contoso@bitcoin.service');
      expect(json.status).toMatchObject({ team: 'contoso', name: 'bitcoin', activeState: 'ACTIVE_STATE_INACTIVE' });
    });

    it('Start starts bitcoin, and GetStatus then decodes `started` as a Timestamp of about now', async () => {
      const start = await expectSuccess('Start');
      expect(start.stream).toMatchObject({ activeState: 'ACTIVE_STATE_ACTIVE', subState: 'running' });

      const { response, json } = await call('GetStatus', bitcoin);
      const status = read(response, 'status') as Message;
      const started = read(status, 'started') as Message & { seconds: bigint; nanos: number };
      expect(started.$typeName).toBe('google.protobuf.Timestamp');
      expect(typeof started.seconds).toBe('bigint');
      expect(Math.abs(Number(started.seconds) - Date.now() / 1000)).toBeLessThan(60);
      const jsonStatus = json.status as { started: string; activeState: string };
      expect(jsonStatus.activeState).toBe('ACTIVE_STATE_ACTIVE');
      expect(jsonStatus.started).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
      expect(Math.abs(Date.parse(jsonStatus.started) - Date.now())).toBeLessThan(60_000);
    });

    it('Restart restarts bitcoin', async () => {
      const restart = await expectSuccess('Restart');
      expect(restart.stream).toMatchObject({ activeState: 'ACTIVE_STATE_ACTIVE' });
    });

    it('Stop stops bitcoin', async () => {
      const stop = await expectSuccess('Stop');
      expect(stop.stream).toMatchObject({ activeState: 'ACTIVE_STATE_INACTIVE' });
      const { response } = await call('GetStatus', bitcoin);
      expect(read(read(response, 'status') as Message, 'started')).toBeUndefined();
    });

    it('WatchStatus streams bitcoin\'s status, starting with its INITIAL state', async () => {
      called.add('WatchStatus');
      const m = method('WatchStatus');
      const [first] = await firstStreamed(m, bitcoin, 1);
      expect(first!.$typeName).toBe(m.output.typeName);
      expect(read(first!, 'kind')).toBe(enumValue(enumOf(m.output, 'kind'), 'WATCH_EVENT_KIND_INITIAL'));
      const json = toJson(m.output, first!, { registry }) as { status: { name: string } };
      expect(json.status.name).toBe('bitcoin');
    });

    it("Logs sends bitcoin's lines from the journal, systemd's about it included", async () => {
      called.add('Logs');
      const m = method('Logs');
      const [first] = await firstStreamed(m, { ...bitcoin, tailLines: 5 }, 1);
      expect(first!.$typeName).toBe(m.output.typeName);
      const json = toJson(m.output, first!, { registry }) as { entries: { message: string; source: string; cursor: string }[] };
      expect(json.entries.length).toBeGreaterThan(0);
      expect(json.entries.some((entry) => entry.source === 'LOG_SOURCE_SYSTEMD' && /lit-stream-contoso@bitcoin\.service/.test(entry.message))).toBe(true);
      expect(json.entries.every((entry) => entry.cursor.startsWith('s='))).toBe(true);
    });

    it("Enable enables a stream, listing systemd's symlink; Disable removes it", async () => {
      const ticker = { team: 'boot', name: 'ticker' };
      const enable = await call('Enable', ticker);
      expect(enable.json).toMatchObject({ status: 'ACTION_STATUS_SUCCESS', message: 'Stream enabled.', stream: { unitFileState: 'enabled' } });
      const [change] = read(enable.response, 'changes') as Message[];
      expect(change!.$typeName).toBe('lit.stream.v1.UnitFileChange');
      expect(read(change!, 'type')).toBe('symlink');
      expect(read(change!, 'path')).toMatch(/\/default\.target\.wants\/lit-stream-boot@ticker\.service$/);
      const disable = await call('Disable', ticker);
      expect(disable.json).toMatchObject({ status: 'ACTION_STATUS_SUCCESS', message: 'Stream disabled.', changes: [{ type: 'unlink' }] });
    });

    it("ListRuns lists bitcoin's runs, newest first: the one Restart began and the one it stopped", async () => {
      const { json } = await call('ListRuns', { ...bitcoin, limit: 2 });
      const runs = json.runs as { invocationId: string; started: string; ended?: string; result?: string; lastLines?: { source: string }[] }[];
      expect(runs).toHaveLength(2);
      for (const run of runs) {
        expect(run.invocationId).toMatch(/^[0-9a-f]{32}$/);
        expect(Math.abs(Date.parse(run.started) - Date.now())).toBeLessThan(60_000);
        expect(run.lastLines?.some((line) => line.source === 'LOG_SOURCE_SYSTEMD')).toBe(true);
      }
      expect(runs[0]!.invocationId).not.toBe(runs[1]!.invocationId);
      expect(Date.parse(runs[0]!.started)).toBeGreaterThanOrEqual(Date.parse(runs[1]!.started));
      // Stop ended the newest; Restart the one before, which a stop by request leaves `success`.
      expect(runs[1]).toMatchObject({ result: 'success' });
      expect(Date.parse(runs[1]!.ended!)).toBeLessThanOrEqual(Date.parse(runs[0]!.started));
    });

    it('has called every method the reflected StreamService has', () => {
      expect([...called].sort()).toEqual(streamService.methods.map((m) => m.name).sort());
    });
  });

  it('Health.Check on "" answers SERVING, from reflected descriptors alone', async () => {
    const registry = await session.registry({ fileContainingSymbol: 'grpc.health.v1.Health' });
    const check = service(registry, 'grpc.health.v1.Health').methods.find((m) => m.name === 'Check');
    expect(check).toBeDefined();
    const response = await callDynamic(check!, { service: '' });
    expect(read(response, 'status')).toBe(enumValue(enumOf(check!.output, 'status'), 'SERVING'));
    expect(toJson(check!.output, response, { registry })).toEqual({ status: 'SERVING' });
  });
});
