// Loads Envoy's ext_proc protos (bundled in @grpc/grpc-js-xds) and patches in what newer Envoy APIs added: the
// FULL_DUPLEX_STREAMED body field and mode, and the protocol_config Envoy sends with its first message.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import { FairwayError } from '../core/index.js';

export const EXT_PROC_SERVICE_NAME = 'envoy.service.ext_proc.v3.ExternalProcessor';
const EXT_PROC_PROTO = 'envoy/service/ext_proc/v3/external_processor.proto';
const DEP_DIRS = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'] as const;

/**
 * keepCase so messages use the .proto field names (snake_case). Struct/Value are the exception: protobufjs
 * serves google.protobuf.* from its own bundled definitions, whose fields are camelCase
 * (`structValue`, `stringValue`, `listValue`) whatever keepCase says.
 */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: true,
};

export interface ExtProcProtos {
  readonly packageDefinition: protoLoader.PackageDefinition;
  readonly processMethod: protoLoader.MethodDefinition<object, object>;
}

let cached: ExtProcProtos | undefined;

/** The proto directories shipped with @grpc/grpc-js-xds, resolved from our own module location. */
export function envoyProtoIncludeDirs(): string[] {
  const pkgJson = createRequire(import.meta.url).resolve('@grpc/grpc-js-xds/package.json');
  const deps = path.join(path.dirname(pkgJson), 'deps');
  return DEP_DIRS.map((dir) => path.join(deps, dir));
}

/** Loads once per process (about 0.2 s), on first use, never at import. */
export function loadExtProcProtos(): ExtProcProtos {
  if (cached !== undefined) return cached;
  const root = new protobuf.Root();
  const includeDirs = envoyProtoIncludeDirs();
  root.resolvePath = (_origin, target) => {
    if (path.isAbsolute(target)) return target;
    for (const dir of includeDirs) {
      const candidate = path.join(dir, target);
      if (existsSync(candidate)) return candidate;
    }
    // google/protobuf/*.proto: protobufjs serves these from its bundled "common" definitions
    // (proto-loader registers descriptor.proto there when imported).
    return target;
  };
  try {
    root.loadSync(EXT_PROC_PROTO, { keepCase: true });
    addStreamedBodyResponse(root);
    addProtocolConfiguration(root);
    root.resolveAll();
  } catch (err) {
    throw new FairwayError('ERR_PROTO_LOAD', `cannot load Envoy ext_proc protos from ${includeDirs[0] ?? '?'}`, {
      cause: err,
    });
  }
  const packageDefinition = protoLoader.fromJSON(root.toJSON(), PROTO_LOADER_OPTIONS);
  const service = packageDefinition[EXT_PROC_SERVICE_NAME];
  const processMethod = service !== undefined && 'Process' in service ? service.Process : undefined;
  if (processMethod === undefined || typeof processMethod !== 'object' || !('path' in processMethod)) {
    throw new FairwayError('ERR_PROTO_LOAD', `${EXT_PROC_SERVICE_NAME}/Process missing from the loaded protos`);
  }
  cached = { packageDefinition, processMethod };
  return cached;
}

/**
 * The bundled Envoy API predates FULL_DUPLEX_STREAMED. This adds what today's Envoy API
 * (envoy/service/ext_proc/v3/external_processor.proto, Envoy >= 1.32) declares:
 *   message StreamedBodyResponse { bytes body = 1; bool end_of_stream = 2; }
 *   message BodyMutation { oneof mutation { ...; StreamedBodyResponse streamed_response = 3; } }
 * Idempotent, so a root that already has the field (a newer bundle) is left alone.
 */
export function addStreamedBodyResponse(root: protobuf.Root): void {
  const pkg = root.lookup('envoy.service.ext_proc.v3');
  const bodyMutation = root.lookupType('envoy.service.ext_proc.v3.BodyMutation');
  if (!(pkg instanceof protobuf.Namespace)) throw new FairwayError('ERR_PROTO_LOAD', 'ext_proc package missing');
  if (pkg.get('StreamedBodyResponse') === null) {
    const streamed = new protobuf.Type('StreamedBodyResponse')
      .add(new protobuf.Field('body', 1, 'bytes'))
      .add(new protobuf.Field('end_of_stream', 2, 'bool'));
    pkg.add(streamed);
  }
  if (bodyMutation.fields['streamed_response'] === undefined) {
    const field = new protobuf.Field('streamed_response', 3, 'StreamedBodyResponse');
    bodyMutation.add(field);
    const oneof = bodyMutation.oneofs['mutation'];
    if (oneof === undefined) throw new FairwayError('ERR_PROTO_LOAD', 'BodyMutation.mutation oneof missing');
    oneof.add(field);
  }
}

const BODY_SEND_MODE = 'envoy.extensions.filters.http.ext_proc.v3.ProcessingMode.BodySendMode';

/**
 * The bundled Envoy API also predates the body modes added since and the processing request's `protocol_config`
 * (today's Envoy API declares both):
 *   enum BodySendMode { ...; FULL_DUPLEX_STREAMED = 4; GRPC = 5; }
 *   message ProtocolConfiguration { BodySendMode request_body_mode = 1; BodySendMode response_body_mode = 2;
 *                                   bool send_body_without_waiting_for_header_response = 3; }
 *   message ProcessingRequest { ...; ProtocolConfiguration protocol_config = 11; }
 * Envoy puts `protocol_config` in the first message of each stream: it is how a stream learns Envoy's body modes.
 * Idempotent, like addStreamedBodyResponse.
 */
export function addProtocolConfiguration(root: protobuf.Root): void {
  const pkg = root.lookup('envoy.service.ext_proc.v3');
  if (!(pkg instanceof protobuf.Namespace)) throw new FairwayError('ERR_PROTO_LOAD', 'ext_proc package missing');
  const modes = root.lookupEnum(BODY_SEND_MODE);
  if (modes.values['FULL_DUPLEX_STREAMED'] === undefined) modes.add('FULL_DUPLEX_STREAMED', 4);
  if (modes.values['GRPC'] === undefined) modes.add('GRPC', 5);
  if (pkg.get('ProtocolConfiguration') === null) {
    pkg.add(
      new protobuf.Type('ProtocolConfiguration')
        .add(new protobuf.Field('request_body_mode', 1, BODY_SEND_MODE))
        .add(new protobuf.Field('response_body_mode', 2, BODY_SEND_MODE))
        .add(new protobuf.Field('send_body_without_waiting_for_header_response', 3, 'bool')),
    );
  }
  const request = root.lookupType('envoy.service.ext_proc.v3.ProcessingRequest');
  if (request.fields['protocol_config'] === undefined) request.add(new protobuf.Field('protocol_config', 11, 'ProtocolConfiguration'));
}
