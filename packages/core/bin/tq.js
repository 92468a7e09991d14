#!/usr/bin/env node
// The `tq` command. A committed shim so npm can link it before the package is built.
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`tq: ${error?.message ?? String(error)}\n`);
    process.exit(1);
  },
);
