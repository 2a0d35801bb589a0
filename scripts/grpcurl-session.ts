/**
 * Replays docs/grpcurl.md's session and prints it as grpcurl would: each call as the grpcurl
 * command line that makes it, each answer in proto3's canonical JSON (what grpcurl prints: enum
 * names, int64 as strings, default values left out), errors as grpcurl's `ERROR: Code: … Message: …`.
 * grpcurl itself is not packaged in Debian 12, so that session is made with this, from
 * the repository alone:
 *
 *   npx tsx scripts/grpcurl-session.ts > session.txt
 *
 * Requests and answers are encoded with the API's own descriptors (gen/descriptorSet.ts, as the
 * server's reflection serves them) through @bufbuild/protobuf's JSON mapping. It boots its own
 * embedded systemd with the demo's team (contoso: bitcoin runs examples/ticker.mjs) and the failing
 * stream the session declares by hand (litecoin), runs lit-streamd on a free port with the server's
 * default settle window, and tears both down at the end. Times, pids and cursors differ from run to
 * run. (Not covered: `grpcurl list`, and the `cat` of litecoin's unit file, which is LITECOIN below.)
 */
import { type ChannelCredentials, Client, credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { createFileRegistry, type DescMessage, type FileRegistry, fromBinary, fromJson, type JsonObject, toBinary, toJson } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { descriptorSetBase64 } from '../gen/descriptorSet.js';
import { UnitNaming } from '../src/core/unitNaming.js';
import { createLogger } from '../src/daemon/main.js';
import { startServer } from '../src/daemon/server.js';
import { EmbeddedSystemd } from '../src/dev/embeddedSystemd.js';

const REPO = resolve(fileURLToPath(import.meta.url), '../..');
/** The address shown in the command lines: the session's (npm start's default), whatever port this run got. */
const SHOWN_ADDRESS = '127.0.0.1:50051';
const STREAMS = 'lit.stream.v1.StreamService';
/** Messages of the follow shown before it is cancelled ("^C"). */
const FOLLOWED_MESSAGES = 3;

const LITECOIN = `[Unit]
Description=a price feed that cannot reach its upstream

[Service]
Type=exec
ExecStart=/bin/sh -c 'echo "connecting to upstream"; sleep 0.3; echo "fatal: no upstream" >&2; exit 3'
`;

/** One method of the API, its messages from the descriptors. */
class Method {
  readonly path: string;
  readonly input: DescMessage;
  readonly output: DescMessage;

  constructor(registry: FileRegistry, service: string, readonly name: string) {
    const method = registry.getService(service)?.methods.find((m) => m.name === name);
    if (!method) throw new Error(`no method ${service}/${name} in the descriptors`);
    this.path = `/${service}/${name}`;
    this.input = method.input;
    this.output = method.output;
  }

  /** The request as grpcurl's `-d` takes it (proto3 JSON), encoded. */
  encode(request: JsonObject): Buffer {
    return Buffer.from(toBinary(this.input, fromJson(this.input, request)));
  }

  /** An answer as grpcurl prints it. */
  print(bytes: Buffer): void {
    process.stdout.write(`${JSON.stringify(toJson(this.output, fromBinary(this.output, bytes)), null, 2)}\n`);
  }
}

function command(service: string, method: string, request?: JsonObject): void {
  const data = request && Object.keys(request).length > 0 ? ` -d '${JSON.stringify(request)}'` : '';
  process.stdout.write(`$ grpcurl -plaintext${data} ${SHOWN_ADDRESS} ${service}/${method}\n`);
}

/** grpcurl names codes as Go's codes.Code does: NOT_FOUND → NotFound. */
function printError(error: ServiceError): void {
  const name = (status[error.code] ?? String(error.code)).toLowerCase().replace(/(?:^|_)([a-z])/g, (_, c: string) => c.toUpperCase());
  process.stdout.write(`ERROR:\n  Code: ${name}\n  Message: ${error.details}\n`);
}

const raw = (bytes: Buffer) => bytes;

function unary(client: Client, method: Method, request: JsonObject, service = STREAMS): Promise<void> {
  command(service, method.name, request);
  return new Promise((done) => {
    client.makeUnaryRequest(method.path, raw, raw, method.encode(request), new Metadata(), { deadline: Date.now() + 30_000 }, (error, response) => {
      if (error) printError(error);
      else method.print(response!);
      process.stdout.write('\n');
      done();
    });
  });
}

/** A server-streaming call shown until FOLLOWED_MESSAGES messages have come, then cancelled. */
function follow(client: Client, method: Method, request: JsonObject): Promise<void> {
  command(STREAMS, method.name, request);
  const call = client.makeServerStreamRequest(method.path, raw, raw, method.encode(request), new Metadata());
  let seen = 0;
  return new Promise((done) => {
    call.on('data', (message: Buffer) => {
      method.print(message);
      if (++seen < FOLLOWED_MESSAGES) return;
      process.stdout.write('^C\n\n');
      call.cancel();
    });
    call.on('error', (error: ServiceError) => {
      if (error.code !== status.CANCELLED) printError(error);
    });
    call.on('close', () => done());
  });
}

async function main(): Promise<void> {
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, Buffer.from(descriptorSetBase64, 'base64')));
  const method = (name: string, service = STREAMS) => new Method(registry, service, name);
  const sandbox = await EmbeddedSystemd.boot();
  try {
    const naming = new UnitNaming();
    const template = naming.templateOf('contoso');
    const ticker = join(REPO, 'examples', 'ticker.mjs');
    await sandbox.writeUnit(
      template,
      `[Unit]\nDescription=lit-stream demo price ticker %i (team contoso)\n\n[Service]\nType=exec\nExecStart=${process.execPath} ${ticker} %i\nRestart=on-failure\n`,
    );
    await sandbox.linkUnit(naming.unitOf({ team: 'contoso', name: 'bitcoin' }), template);
    await sandbox.writeUnit(naming.unitOf({ team: 'contoso', name: 'litecoin' }), LITECOIN);
    await sandbox.reload();
    const server = await startServer({
      listen: '127.0.0.1:0',
      bus: sandbox.busAddress,
      journalDirectory: sandbox.journalDirectory,
      naming,
      log: createLogger('silent'),
    });
    const insecure: ChannelCredentials = credentials.createInsecure();
    const client = new Client(server.address, insecure);
    try {
      await unary(client, method('Start'), { team: 'contoso', name: 'bitcoin' });
      await unary(client, method('Start'), { team: 'contoso', name: 'litecoin' });
      await unary(client, method('GetStatus'), { team: 'contoso', name: 'bitcoin', log_lines: 3 });
      await follow(client, method('Logs'), { team: 'contoso', name: 'bitcoin', tail_lines: 2, follow: true });
      await unary(client, method('Start'), { team: 'contoso', name: 'dogecoin' });
      const health = 'grpc.health.v1.Health';
      await unary(client, method('Check', health), {}, health);
    } finally {
      client.close();
      await server.shutdown(2_000);
    }
  } finally {
    await sandbox.shutdown();
  }
}

await main();
