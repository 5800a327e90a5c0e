// TLS choice shared by the gRPC servers: plaintext, a given certificate, or one generated at start.
import * as grpc from '@grpc/grpc-js';
import { type CertificateAndKey, generateSelfSignedCertificate } from './self-signed-cert.js';

/** `undefined`: plaintext; `'self-signed'`: a fresh ECDSA certificate for localhost; or PEM cert and key. */
export type TlsOption = CertificateAndKey | 'self-signed' | undefined;

export interface ListenOptions {
  /** @default '0.0.0.0' */
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly tls?: TlsOption;
}

export const DEFAULT_LISTEN_HOST = '0.0.0.0';

export function serverCredentials(tls: TlsOption): { credentials: grpc.ServerCredentials; certificate?: CertificateAndKey } {
  if (tls === undefined) return { credentials: grpc.ServerCredentials.createInsecure() };
  const pair = tls === 'self-signed' ? generateSelfSignedCertificate() : tls;
  return {
    credentials: grpc.ServerCredentials.createSsl(null, [
      { cert_chain: Buffer.from(pair.cert), private_key: Buffer.from(pair.key) },
    ], false),
    certificate: pair,
  };
}

/** `host:port` as grpc-js wants it (IPv6 literals bracketed). */
export function bindAddress(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Binds, resolving with the actual port (port 0 picks a free one). */
export function bindServer(server: grpc.Server, address: string, credentials: grpc.ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, credentials, (err, port) => (err === null ? resolve(port) : reject(err)));
  });
}

/** Graceful shutdown within `graceMs`, then forced: in-flight calls are cancelled. */
export function shutdownServer(server: grpc.Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, Math.max(0, graceMs));
    timer.unref();
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
