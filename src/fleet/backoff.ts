/**
 * How long to wait before trying a host again: 100 ms, doubling up to 5 s, each with up to a fifth
 * more at random so that gateways which lost a host together do not knock on it together (gRPC's
 * connection backoff, grpc.io "Connection Backoff Protocol", with shorter bounds: agents restart
 * in a second or two).
 */
export class Backoff {
  private current = 0;

  constructor(
    private readonly initialMs = 100,
    private readonly maxMs = 5_000,
  ) {}

  next(): number {
    this.current = this.current === 0 ? this.initialMs : Math.min(this.maxMs, this.current * 2);
    return Math.round(this.current * (1 + Math.random() * 0.2));
  }

  reset(): void {
    this.current = 0;
  }
}
