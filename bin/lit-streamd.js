#!/usr/bin/env node
// lit-streamd: the lit-stream gRPC server. Built into dist/ by `npm ci` (the `prepare` script).
import { main } from '../dist/src/server/main.js';

await main(process.argv.slice(2));
