#!/usr/bin/env node
// lit-streamd: the lit-stream gRPC server. `npm ci` builds dist/ (the `prepare` script).
import '../dist/src/daemon/cli.js';
