import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { type ChannelCredentials, credentials } from '@grpc/grpc-js';
import type { FleetTls } from './fleetFile.js';

/** The gateway's credentials towards agents, and what tells one identity from another. */
export interface AgentCredentials {
  readonly credentials: ChannelCredentials;
  /**
   * The same for the same CA, certificate and key, whatever the files are called, and different
   * when any of them changes: a certificate renewed in place is a new identity.
   */
  readonly identity: string;
}

/**
 * The gateway's credentials towards agents: mTLS with its own certificate, agents' certificates
 * checked against the fleet's CA and the address dialled (its IP, or the SRV target's name); or,
 * without `tls:`, plaintext (the fleet file allows that only for loopback and unix-socket agents).
 * The files are read now, at each call (a reload reads them again).
 */
export async function agentCredentials(tls: FleetTls | undefined): Promise<AgentCredentials> {
  if (!tls) return { credentials: credentials.createInsecure(), identity: 'plaintext' };
  const [ca, key, cert] = await Promise.all([readFile(tls.ca), readFile(tls.key), readFile(tls.cert)]);
  const digest = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
  return { credentials: credentials.createSsl(ca, key, cert), identity: [ca, key, cert].map(digest).join(' ') };
}
