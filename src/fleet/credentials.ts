import { readFile } from 'node:fs/promises';
import { type ChannelCredentials, credentials } from '@grpc/grpc-js';
import type { FleetTls } from './fleetFile.js';

/**
 * The gateway's credentials towards agents: mTLS with its own certificate, agents' certificates
 * checked against the fleet's CA and the address dialled (its IP, or the SRV target's name); or,
 * without `tls:`, plaintext (the fleet file allows that only for loopback and unix-socket agents).
 */
export async function agentCredentials(tls: FleetTls | undefined): Promise<ChannelCredentials> {
  if (!tls) return credentials.createInsecure();
  const [ca, key, cert] = await Promise.all([readFile(tls.ca), readFile(tls.key), readFile(tls.cert)]);
  return credentials.createSsl(ca, key, cert);
}
