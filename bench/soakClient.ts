// A client process for the soak (bench/soakLoad.ts), which SIGKILLs it mid-call: it opens team
// watches and calls GetStatus in a loop until it dies. Arguments: ADDRESS TEAM STREAM...
import { credentials, Metadata } from '@grpc/grpc-js';
import { StreamServiceClient } from '../gen/lit/stream/v1/stream.js';

const [address, team, ...streams] = process.argv.slice(2);
if (!address || !team || streams.length === 0) {
  process.stderr.write('usage: soakClient ADDRESS TEAM STREAM...\n');
  process.exit(2);
}
const client = new StreamServiceClient(address, credentials.createInsecure());
for (let i = 0; i < 5; i++) client.watchStatus({ team, name: '' }).on('error', () => undefined);
let next = 0;
const call = (): void => {
  const name = streams[next++ % streams.length]!;
  client.getStatus({ team, name }, new Metadata(), { deadline: Date.now() + 15_000 }, () => call());
};
for (let i = 0; i < 4; i++) call();
