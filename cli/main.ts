#!/usr/bin/env node
/**
 * `lightsched`: look at and steer a container from a shell, and run a worker (the package's bin).
 *
 *   lightsched --container sqlite:tasks.db counts
 *   lightsched --container redis://127.0.0.1:6379 --name videos list --status failed
 *   lightsched --container postgres://app@db/app add '{"a":10,"b":20}'
 *   lightsched --container sqlite:tasks.db worker --module ./add.js --concurrency 8
 */
import { CliError, EXIT } from './cli-error.js';
import { run } from './program.js';

run(process.argv.slice(2), { out: process.stdout, err: process.stderr }, process.stdin).then(
	(code) => {
		process.exitCode = code;
	},
	(error: unknown) => {
		process.stderr.write(`lightsched: ${String(error)}\n`);
		process.exitCode = error instanceof CliError ? error.exitCode : EXIT.failed;
	},
);
