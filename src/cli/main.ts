#!/usr/bin/env node
// The `rnnx` command. Everything lives in app.ts so that tests and scripts can run it in-process.
import { runCli } from './app.js';

process.exitCode = await runCli(process.argv.slice(2));
