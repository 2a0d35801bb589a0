import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * Certificates for mTLS tests, made with openssl(1) at test time so that no key is ever committed:
 * a CA, a server certificate for 127.0.0.1/localhost, a client certificate signed by the CA, and a
 * client certificate with the same names from a rogue CA nobody trusts. EC P-256 keys, valid for a
 * day, in a temporary directory that is removed before this returns.
 */

export interface KeyPair {
  /** PEM certificate. */
  readonly cert: Buffer;
  /** PEM private key (PKCS#8). */
  readonly key: Buffer;
}

export interface TestCertificates {
  readonly ca: KeyPair;
  /** For 127.0.0.1, ::1 and localhost (or `serverAltNames`); extendedKeyUsage serverAuth. */
  readonly server: KeyPair;
  /** CN and SAN DNS `clientSubject`, signed by `ca`; extendedKeyUsage clientAuth. */
  readonly client: KeyPair;
  readonly rogueCa: KeyPair;
  /** The same names as `client`, signed by `rogueCa`. */
  readonly rogueClient: KeyPair;
}

export interface CertificateOptions {
  /** Where to make the temporary directory; default os.tmpdir(). */
  readonly tmpRoot?: string;
  /** The client certificate's CN; default `ingest-bot.contoso.internal`. */
  readonly clientSubject?: string;
  /**
   * The client certificate's subjectAltName entries as `TYPE:value` (openssl's types: DNS, URI,
   * email, IP); values may hold commas. Default `DNS:<clientSubject>`.
   */
  readonly clientAltNames?: readonly string[];
  /** The server certificate's subjectAltName entries; default localhost, 127.0.0.1 and ::1. */
  readonly serverAltNames?: readonly string[];
}

const run = promisify(execFile);

export async function generateTestCertificates(options: CertificateOptions = {}): Promise<TestCertificates> {
  const clientSubject = options.clientSubject ?? 'ingest-bot.contoso.internal';
  const clientAltNames = options.clientAltNames ?? [`DNS:${clientSubject}`];
  const dir = await mkdtemp(join(options.tmpRoot ?? tmpdir(), 'lit-stream-certs-'));
  try {
    const openssl = new Openssl(dir);
    const [ca, rogueCa] = await Promise.all([
      openssl.certificateAuthority('ca', 'lit-stream test CA'),
      openssl.certificateAuthority('rogue-ca', 'lit-stream rogue CA'),
    ]);
    const [server, client, rogueClient] = await Promise.all([
      openssl.leaf('server', 'ca', 'localhost', 'serverAuth', options.serverAltNames ?? ['DNS:localhost', 'IP:127.0.0.1', 'IP:::1']),
      openssl.leaf('client', 'ca', clientSubject, 'clientAuth', clientAltNames),
      openssl.leaf('rogue-client', 'rogue-ca', clientSubject, 'clientAuth', clientAltNames),
    ]);
    return { ca, server, client, rogueCa, rogueClient };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

class Openssl {
  constructor(private readonly dir: string) {}

  /** A self-signed CA: basicConstraints CA:TRUE, may sign certificates. */
  async certificateAuthority(name: string, commonName: string): Promise<KeyPair> {
    await this.openssl(
      'req', '-x509', ...this.newKey(name), '-out', this.path(`${name}.pem`), '-days', '1',
      '-subj', `/CN=${commonName}`,
      '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    );
    return this.pair(name);
  }

  /** A certificate for `commonName` with the given SANs and extended key usage, signed by `issuer`. */
  async leaf(name: string, issuer: string, commonName: string, usage: 'serverAuth' | 'clientAuth', altNames: readonly string[]): Promise<KeyPair> {
    await this.openssl('req', '-new', ...this.newKey(name), '-out', this.path(`${name}.csr`), '-subj', `/CN=${commonName}`);
    await writeFile(
      this.path(`${name}.ext`),
      [
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature',
        `extendedKeyUsage=${usage}`,
        // A section (x509v3_config(5), "Subject Alternative Name"), so that values may hold commas.
        'subjectAltName=@alt_names',
        '[alt_names]',
        ...altNames.map((entry, index) => {
          const colon = entry.indexOf(':');
          return `${entry.slice(0, colon)}.${index}=${entry.slice(colon + 1)}`;
        }),
        '',
      ].join('\n'),
    );
    await this.openssl(
      'x509', '-req', '-in', this.path(`${name}.csr`), '-days', '1',
      '-CA', this.path(`${issuer}.pem`), '-CAkey', this.path(`${issuer}.key`), '-set_serial', `0x${serial()}`,
      '-extfile', this.path(`${name}.ext`), '-out', this.path(`${name}.pem`),
    );
    return this.pair(name);
  }

  private newKey(name: string): string[] {
    return ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', this.path(`${name}.key`)];
  }

  private async pair(name: string): Promise<KeyPair> {
    const [cert, key] = await Promise.all([readFile(this.path(`${name}.pem`)), readFile(this.path(`${name}.key`))]);
    return { cert, key };
  }

  private path(file: string): string {
    return join(this.dir, file);
  }

  private async openssl(...args: string[]): Promise<void> {
    try {
      // No config file of the host's: the defaults, and only what the arguments say.
      await run('openssl', args, { env: { ...process.env, OPENSSL_CONF: '/dev/null' } });
    } catch (error) {
      const stderr = (error as { stderr?: string }).stderr ?? '';
      throw new Error(`openssl ${args.join(' ')} failed: ${stderr.trim() || (error as Error).message}`);
    }
  }
}

/** A random 63-bit serial with its top bit clear (RFC 5280 4.1.2.2: positive), one per certificate. */
function serial(): string {
  const bytes = randomBytes(8);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x10;
  return bytes.toString('hex');
}
