#!/usr/bin/env node
// lit-streamctl: the command line for lit-streamd, shaped like systemctl. `npm run build` builds dist/.
import '../dist/cli/bin.js';
