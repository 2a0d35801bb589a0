#!/usr/bin/env node
// lit-streamctl, as the server package ships it: the client package's command line, compiled into
// dist/clients/ by the server's build (tsconfig.json), so that it needs no other package.
import '../dist/clients/typescript/src/cli/bin.js';
