/**
 * Tests that watch or disturb a Redis container's script calls (a reply dropped, held back, or recorded). The
 * container sends each script call as a ready ioredis `Command` (containers/redis/script-runner.ts `sendArgs`, not
 * `call`), so they are caught at `sendCommand`.
 */
import { Command, type Redis } from 'ioredis';

/** Send a script call again, as the container does (the reply, or the server's error). */
export type SendScript = (command: string, args: readonly (string | number)[]) => Promise<unknown>;

/**
 * Route every `EVAL`/`EVALSHA` that `client` sends through `around`, which gets the command's name and arguments
 * (the script or its SHA first) and the function that sends a call for real; what it returns (or throws) is the
 * caller's reply. Other commands go through untouched.
 */
export function aroundScriptCalls(
	client: Redis,
	around: (command: string, args: readonly (string | number)[], send: SendScript) => Promise<unknown>,
): void {
	const original = client.sendCommand.bind(client);
	const send: SendScript = (name, args) => {
		const command = new Command(name, [], { replyEncoding: 'utf8' });
		command.args = [...args];
		return original(command) as Promise<unknown>;
	};
	client.sendCommand = ((command: Command, stream?: unknown) => {
		const name = command.name.toUpperCase();
		if (name !== 'EVAL' && name !== 'EVALSHA') return original(command, stream as never);
		around(command.name, command.args as (string | number)[], send).then(
			(value) => command.resolve(value),
			(error: unknown) => command.reject(error as Error),
		);
		return command.promise;
	}) as typeof client.sendCommand;
}
