// Generates a self-signed TLS certificate with node:crypto alone (ECDSA P-256), for the ext_proc port's
// default TLS, as the Go picker does. node:crypto can sign but not build X.509, so the DER is assembled here.
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';

export interface CertificateAndKey {
  /** PEM certificate. */
  readonly cert: string;
  /** PEM PKCS#8 private key. */
  readonly key: string;
}

export interface SelfSignedOptions {
  /** @default 'fairway' */
  readonly commonName?: string;
  /** @default ['localhost'] */
  readonly dnsNames?: readonly string[];
  /** IPv4 or IPv6 literals. @default ['127.0.0.1', '::1'] */
  readonly ipAddresses?: readonly string[];
  /** @default 365 */
  readonly validDays?: number;
  /** @default new Date() */
  readonly now?: Date;
}

export const DEFAULT_CERT_COMMON_NAME = 'fairway';
export const DEFAULT_CERT_VALID_DAYS = 365;

const OID_ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const OID_COMMON_NAME = '2.5.4.3';
const OID_SUBJECT_ALT_NAME = '2.5.29.17';
const OID_BASIC_CONSTRAINTS = '2.5.29.19';

export function generateSelfSignedCertificate(options: SelfSignedOptions = {}): CertificateAndKey {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const now = options.now ?? new Date();
  const notBefore = new Date(now.getTime() - 60 * 60 * 1000); // tolerate small clock skew
  const notAfter = new Date(now.getTime() + (options.validDays ?? DEFAULT_CERT_VALID_DAYS) * 86_400_000);
  const name = seq(set(seq(oid(OID_COMMON_NAME), utf8(options.commonName ?? DEFAULT_CERT_COMMON_NAME))));
  const algorithm = seq(oid(OID_ECDSA_WITH_SHA256));
  const serial = randomBytes(16);
  // Positive and minimal in DER: top bit clear (no sign padding needed) and first byte non-zero (a leading zero
  // byte would be illegal padding, which made 1 in 512 certificates unparsable).
  serial[0] = ((serial[0] ?? 0) & 0x3f) | 0x40;
  const tbs = seq(
    explicit(0, integer(Buffer.from([2]))), // v3
    integer(serial),
    algorithm,
    name,
    seq(time(notBefore), time(notAfter)),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    explicit(
      3,
      seq(
        seq(oid(OID_BASIC_CONSTRAINTS), octetString(seq())), // CA: false
        seq(oid(OID_SUBJECT_ALT_NAME), octetString(subjectAltNames(options))),
      ),
    ),
  );
  const signature = sign('sha256', tbs, privateKey); // DER ECDSA-Sig-Value
  const der = seq(tbs, algorithm, bitString(signature));
  return {
    cert: pem('CERTIFICATE', der),
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

function subjectAltNames(options: SelfSignedOptions): Buffer {
  const names: Buffer[] = [];
  for (const dns of options.dnsNames ?? ['localhost']) names.push(tlv(0x82, Buffer.from(dns, 'ascii')));
  for (const ip of options.ipAddresses ?? ['127.0.0.1', '::1']) names.push(tlv(0x87, ipBytes(ip)));
  return seq(...names);
}

function ipBytes(ip: string): Buffer {
  if (ip.includes(':')) {
    const [head = '', tail = ''] = ip.split('::');
    const h = head === '' ? [] : head.split(':');
    const t = tail === '' ? [] : tail.split(':');
    const groups = ip.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
    const out = Buffer.alloc(16);
    groups.forEach((g, i) => out.writeUInt16BE(Number.parseInt(g, 16), i * 2));
    return out;
  }
  return Buffer.from(ip.split('.').map((n) => Number.parseInt(n, 10)));
}

// --- minimal DER encoding ---

function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  let len: Buffer;
  if (n < 0x80) len = Buffer.from([n]);
  else if (n < 0x100) len = Buffer.from([0x81, n]);
  else if (n < 0x10000) len = Buffer.from([0x82, n >> 8, n & 0xff]);
  else len = Buffer.from([0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, content]);
}

const seq = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]): Buffer => tlv(0x31, Buffer.concat(items));
const integer = (value: Buffer): Buffer => tlv(0x02, value);
const utf8 = (s: string): Buffer => tlv(0x0c, Buffer.from(s, 'utf8'));
const octetString = (b: Buffer): Buffer => tlv(0x04, b);
const bitString = (b: Buffer): Buffer => tlv(0x03, Buffer.concat([Buffer.from([0]), b]));
const explicit = (n: number, inner: Buffer): Buffer => tlv(0xa0 + n, inner);

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const bytes = [(parts[0] ?? 0) * 40 + (parts[1] ?? 0)];
  for (const p of parts.slice(2)) {
    const enc = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) enc.unshift((v & 0x7f) | 0x80);
    bytes.push(...enc);
  }
  return tlv(0x06, Buffer.from(bytes));
}

/** UTCTime up to 2049, GeneralizedTime after (RFC 5280 section 4.1.2.5). */
function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14); // YYYYMMDDHHMMSS
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`)) : tlv(0x18, Buffer.from(`${iso}Z`));
}

function pem(label: string, der: Buffer): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END ${label}-----\n`;
}
