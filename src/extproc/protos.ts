// Loads Envoy's ext_proc protos (bundled in @grpc/grpc-js-xds) and patches in the FULL_DUPLEX_STREAMED body field.
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
