/** `unix:/path` (or `unix:///path`): a unix socket, as gRPC names one. */
export function isUnixSocket(address: string): boolean {
  return address.startsWith('unix:');
}

/** Whether `host:port` is on the loopback interface: `localhost`, `[::1]` or `127.x.y.z`. */
export function isLoopback(address: string): boolean {
  const host = address.slice(0, address.lastIndexOf(':')).replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
