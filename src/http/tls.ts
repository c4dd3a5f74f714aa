// The master's TLS material (`--tls-cert`, `--tls-key`, `--tls-ca`): checked when loaded (the key
// must match the certificate) so a wrong file stops the master with the file named, and the CA
// agents pin — its PEM goes into user-data, its fingerprint is the pin.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';

export interface TlsMaterial {
  /** PEM: the certificate, optionally followed by its chain. */
  cert: string;
  key: string;
  /** PEM of the CA agents should trust, when known (given, or the certificate itself if self-signed). */
  caPem?: string;
  /** `sha256:<hex>` of the CA certificate (DER). */
  caPin?: string;
}

export class TlsConfigError extends Error {}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function readFlag(file: string, flag: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new TlsConfigError(`${flag}: cannot read ${file}: ${(e as Error).message}`);
  }
}

function certsOf(pem: string, flag: string): X509Certificate[] {
  const blocks = pem.match(PEM_CERT) ?? [];
  if (!blocks.length) throw new TlsConfigError(`${flag}: no PEM certificate in the file`);
  return blocks.map((b) => {
    try {
      return new X509Certificate(b);
    } catch (e) {
      throw new TlsConfigError(`${flag}: ${(e as Error).message}`);
    }
  });
}

/** `sha256:<lowercase hex>` of a certificate's DER: the pin agents compare their CA file against. */
export function certificatePin(cert: X509Certificate): string {
  return `sha256:${cert.fingerprint256.replace(/:/g, '').toLowerCase()}`;
}

/** The pin of the first certificate in a PEM text. */
export function pemPin(pem: string): string {
  return certificatePin(certsOf(pem, 'certificate')[0]!);
}

export function loadTls(o: { certFile: string; keyFile: string; caFile?: string }): TlsMaterial {
  const cert = readFlag(o.certFile, '--tls-cert');
  const key = readFlag(o.keyFile, '--tls-key');
  const chain = certsOf(cert, '--tls-cert');
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (e) {
    throw new TlsConfigError(`--tls-key: ${o.keyFile} is not a PEM private key: ${(e as Error).message}`);
  }
  if (!chain[0]!.checkPrivateKey(privateKey)) throw new TlsConfigError(`--tls-key: ${o.keyFile} does not belong to the certificate in ${o.certFile}`);
  let ca: X509Certificate | undefined;
  if (o.caFile) {
    ca = certsOf(readFlag(o.caFile, '--tls-ca'), '--tls-ca')[0]!;
    if (!chain.some((c) => c.fingerprint256 === ca!.fingerprint256 || (c.checkIssued(ca!) && c.verify(ca!.publicKey)))) {
      throw new TlsConfigError(`--tls-ca: ${o.caFile} did not issue the certificate in ${o.certFile}`);
    }
  } else {
    // Without --tls-ca: the top of the chain if it signed itself (a private CA or a self-signed cert).
    const top = chain[chain.length - 1]!;
    if (top.checkIssued(top) && top.verify(top.publicKey)) ca = top;
  }
  return { cert, key, ...(ca ? { caPem: ca.toString(), caPin: certificatePin(ca) } : {}) };
}
