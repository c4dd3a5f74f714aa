// Throwaway keys and certificates for tests, made with openssl in a temp dir: a CA with server
// certificates for loopback / namespace addresses (the master's TLS), and self-signed signing
// certificates (the EC2 fake's identity-document signer). Never used outside tests.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './redis.ts';

const openssl = (args: string[], cwd: string): void => { execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] }); };

export interface TestCa {
  dir: string;
  certFile: string;
  keyFile: string;
  pem: string;
}

export interface TestCert {
  certFile: string;
  keyFile: string;
  certPem: string;
  keyPem: string;
}

export function makeCa(cn = 'Spillway Test CA'): TestCa {
  const dir = tempDir('spillway-pki-');
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${cn}`, '-keyout', 'ca.key', '-out', 'ca.pem',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  return { dir, certFile: join(dir, 'ca.pem'), keyFile: join(dir, 'ca.key'), pem: readFileSync(join(dir, 'ca.pem'), 'utf8') };
}

/** A server certificate signed by `ca`, valid for these IP addresses (and DNS names). */
export function issueServerCert(ca: TestCa, name: string, sans: { ips?: string[]; dns?: string[] }): TestCert {
  const alt = [...(sans.ips ?? []).map((ip) => `IP:${ip}`), ...(sans.dns ?? []).map((d) => `DNS:${d}`)].join(',');
  writeFileSync(join(ca.dir, `${name}.ext`), `subjectAltName=${alt}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`);
  openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`], ca.dir);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.pem`], ca.dir);
  return read(ca.dir, name);
}

/** A self-signed RSA certificate and its key (e.g. to sign documents, as AWS does per region). */
export function selfSignedSigner(cn: string): TestCert {
  const dir = tempDir('spillway-signer-');
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${cn}`, '-keyout', 'signer.key', '-out', 'signer.pem'], dir);
  return read(dir, 'signer');
}

function read(dir: string, name: string): TestCert {
  const certFile = join(dir, `${name}.pem`);
  const keyFile = join(dir, `${name}.key`);
  return { certFile, keyFile, certPem: readFileSync(certFile, 'utf8'), keyPem: readFileSync(keyFile, 'utf8') };
}
