// Entry point of the lit-streamd binary (bin/lit-streamd.js runs the built copy of this file).
import { main } from './main.js';

await main(process.argv.slice(2));
