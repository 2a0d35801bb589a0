#!/usr/bin/env node
// A small real-time worker for the demo: prints a made-up price line for its symbol every second,
// like a price feed would. `node examples/ticker.mjs bitcoin`
const symbol = process.argv[2] ?? 'bitcoin';
let price = 1000 + [...symbol].reduce((sum, c) => sum + c.charCodeAt(0), 0) * 37;

const tick = () => {
  price = Math.max(1, price * (1 + (Math.random() - 0.5) / 100));
  process.stdout.write(`${new Date().toISOString()} ${symbol} ${price.toFixed(2)} USD\n`);
};
tick();
const timer = setInterval(tick, 1000);
const stop = () => {
  clearInterval(timer);
  process.stdout.write(`${new Date().toISOString()} ${symbol} feed stopped\n`);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
