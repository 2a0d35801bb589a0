import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import { ResourceExhaustedError } from '../core/errors.js';
import type { CallPipeline } from './callPipeline.js';
import { createFileRegistry, fromBinary, toBinary, type DescFile, type FileRegistry } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { descriptorSetBase64 } from '../../gen/descriptorSet.js';
import * as v1 from '../../gen/grpc/reflection/v1/reflection.js';
import * as v1alpha from '../../gen/grpc/reflection/v1alpha/reflection.js';

type Request = v1.ServerReflectionRequest;
type Response = v1.ServerReflectionResponse;

const NOT_FOUND = 5;

/**
 * gRPC server reflection (grpc/reflection/v1 and v1alpha, same messages), answered from the
 * FileDescriptorSet `buf build` made of our protos and everything they import. Each file is sent
 * with its transitive dependencies and with its `dependency` list intact, so strict clients
 * (grpcurl, a @bufbuild/protobuf registry) can link google.protobuf.Timestamp and friends —
 * @grpc/reflection 1.0.x sends empty dependency lists, which such clients reject.
 */
export class ReflectionIndex {
  private readonly registry: FileRegistry;
  private readonly files = new Map<string, { desc: DescFile; bytes: Uint8Array }>();

  constructor(private readonly servedServices: readonly string[]) {
    const set = fromBinary(FileDescriptorSetSchema, Buffer.from(descriptorSetBase64, 'base64'));
    this.registry = createFileRegistry(set);
    for (const proto of set.file) {
      const desc = this.registry.getFile(proto.name);
      if (desc) this.files.set(proto.name, { desc, bytes: toBinary(FileDescriptorProtoSchema, proto) });
    }
  }

  answer(request: Request): Response {
    const base: Response = {
      validHost: request.host,
      originalRequest: request,
      fileDescriptorResponse: undefined,
      allExtensionNumbersResponse: undefined,
      listServicesResponse: undefined,
      errorResponse: undefined,
    };
    if (request.listServices !== undefined) {
      return { ...base, listServicesResponse: { service: this.servedServices.map((name) => ({ name })) } };
    }
    if (request.fileByFilename !== undefined) {
      return this.withFile(base, this.files.get(request.fileByFilename)?.desc, `file '${request.fileByFilename}'`);
    }
    if (request.fileContainingSymbol !== undefined) {
      const symbol = request.fileContainingSymbol;
      return this.withFile(base, this.fileOfSymbol(symbol), `symbol '${symbol}'`);
    }
    if (request.allExtensionNumbersOfType !== undefined) {
      const type = request.allExtensionNumbersOfType;
      if (!this.registry.getMessage(type)) return notFound(base, `type '${type}'`);
      return { ...base, allExtensionNumbersResponse: { baseTypeName: type, extensionNumber: [] } };
    }
    if (request.fileContainingExtension !== undefined) {
      const { containingType, extensionNumber } = request.fileContainingExtension;
      return notFound(base, `extension ${extensionNumber} of '${containingType}'`);
    }
    return { ...base, errorResponse: { errorCode: 3, errorMessage: 'empty reflection request' } };
  }

  /**
   * A service, message, enum or extension by full name, or a member of one: a method
   * (`pkg.Service.Method`), a field (`pkg.Message.field`) or an enum value (`pkg.Enum.VALUE`), as
   * grpc-go's reflection also answers.
   */
  private fileOfSymbol(symbol: string): DescFile | undefined {
    const direct = this.registry.get(symbol);
    if (direct) return direct.file;
    const dot = symbol.lastIndexOf('.');
    if (dot <= 0) return undefined;
    const parent = this.registry.get(symbol.slice(0, dot));
    const member = symbol.slice(dot + 1);
    switch (parent?.kind) {
      case 'service':
        return parent.methods.some((method) => method.name === member) ? parent.file : undefined;
      case 'message':
        return parent.fields.some((field) => field.name === member) ? parent.file : undefined;
      case 'enum':
        return parent.values.some((value) => value.name === member) ? parent.file : undefined;
      default:
        return undefined;
    }
  }

  private withFile(base: Response, file: DescFile | undefined, what: string): Response {
    if (!file) return notFound(base, what);
    const names: string[] = [];
    const visit = (desc: DescFile) => {
      const name = desc.proto.name;
      if (names.includes(name)) return;
      names.push(name);
      desc.dependencies.forEach(visit);
    };
    visit(file);
    const fileDescriptorProto = names.flatMap((name) => {
      const entry = this.files.get(name);
      return entry ? [entry.bytes] : [];
    });
    return { ...base, fileDescriptorResponse: { fileDescriptorProto: fileDescriptorProto.map((b) => Buffer.from(b)) } };
  }
}

function notFound(base: Response, what: string): Response {
  return { ...base, errorResponse: { errorCode: NOT_FOUND, errorMessage: `${what} not found` } };
}

export const REFLECTION_SERVICES = {
  v1: { name: 'grpc.reflection.v1.ServerReflection', definition: v1.ServerReflectionService },
  v1alpha: { name: 'grpc.reflection.v1alpha.ServerReflection', definition: v1alpha.ServerReflectionService },
} as const;

/**
 * The largest reflection request answered. Real ones name a file or a symbol (well under 1 KiB);
 * anything bigger is not a question, and each answer echoes its request (original_request), so a
 * client sending big requests without reading the answers would make the server hold them all.
 */
export const MAX_REFLECTION_REQUEST_CHARS = 16 * 1024;

/**
 * The bidi-streaming handler: one answer per request, in order, until the client half-closes.
 * Answers are pulled one at a time by the call pipeline, which waits for the client to read each
 * (backpressure), and requests are read only as answers go out.
 */
export function reflectionService(index: ReflectionIndex, calls: CallPipeline, service: string): UntypedServiceImplementation {
  return {
    serverReflectionInfo: calls.bidiStreaming<Request, Response>(
      // Reflection describes the whole API: with an access file, any known identity may read it.
      { service, method: 'ServerReflectionInfo', access: 'identity' },
      async function* (requests) {
        for await (const request of requests) {
          if (requestChars(request) > MAX_REFLECTION_REQUEST_CHARS) {
            throw new ResourceExhaustedError(`reflection requests are limited to ${MAX_REFLECTION_REQUEST_CHARS} characters of names`);
          }
          yield index.answer(request);
        }
      },
    ),
  };
}

function requestChars(request: Request): number {
  const names = [request.host, request.fileByFilename, request.fileContainingSymbol, request.allExtensionNumbersOfType, request.fileContainingExtension?.containingType];
  return names.reduce((sum, name) => sum + (name?.length ?? 0), 0);
}
