/**
 * Reading a container's output while it runs: its stdout and stderr followed from the start into bounded tails
 * (the attempt's output), and line by line into the task's log; after the exit, the last messages a follow stream
 * may have missed, read once more.
 */
import type Dockerode from 'dockerode';
import type { DockerEngine } from './engine.js';
import { dockerError, isConnectionError } from './errors.js';
import type { LogLines } from './log-lines.js';
import { LogTail, missedFrames, RECENT_FRAMES } from './logs.js';

export interface FollowedOutput {
	/** The output tails, read from the container's start. */
	readonly tail: LogTail;
	/** After a reattach, the lines read from the reattach on (the dead scheduler forwarded the earlier ones). */
	readonly lineTail: LogTail | undefined;
	/** Every stream ended without an error. */
	readonly complete: boolean;
}

/**
 * The container's output tails, read from its start; its lines go to `lines` as they come. After a reattach the
 * lines are read apart (`lineTail`), from the moment of the reattach on (`tail: 0`). A failure other than an
 * unreachable daemon (which the wait call reports) goes to `warn`, and leaves empty tails.
 */
export async function followOutput(
	engine: DockerEngine,
	container: Dockerode.Container,
	options: {
		readonly daemon: AbortSignal;
		readonly lines: LogLines | undefined;
		readonly reattached: boolean;
		readonly limit: number;
		readonly warn: (error: Error) => void;
	},
): Promise<FollowedOutput> {
	const { daemon, lines, reattached, limit } = options;
	try {
		const follow = async (tail: 'all' | 0, into: LogLines | undefined, bytes: number): Promise<LogTail> => {
			const stream = (await container.logs({
				follow: true,
				stdout: true,
				stderr: true,
				tail,
				abortSignal: daemon,
			} as never)) as unknown as NodeJS.ReadableStream;
			return LogTail.read(stream as never, bytes, into);
		};
		if (!reattached || lines === undefined)
			return { tail: await follow('all', lines, limit), lineTail: undefined, complete: true };
		const [tail, lineTail] = await Promise.all([follow('all', undefined, limit), follow(0, lines, 0)]);
		return { tail, lineTail, complete: true };
	} catch (error) {
		if (!isConnectionError(error) && !daemon.aborted)
			options.warn(
				dockerError(`reading the logs of container ${container.id.slice(0, 12)}`, error, engine.docker),
			);
		return { tail: new LogTail(limit), lineTail: undefined, complete: false };
	}
}

/**
 * After the exit: the engine may end a follow stream before it wrote the container's last message (a partial
 * last line is written when the output closes), so the log's last messages are read once more and those the
 * stream missed are added (to the tails and the lines). A failure here only leaves them out.
 */
export async function catchUpOutput(
	engine: DockerEngine,
	container: Dockerode.Container,
	{ tail, lineTail }: FollowedOutput,
): Promise<void> {
	let last: Buffer;
	try {
		last = (await engine.call(
			`reading the end of the logs of container ${container.id.slice(0, 12)}`,
			(abortSignal) =>
				container.logs({
					follow: false,
					stdout: true,
					stderr: true,
					tail: RECENT_FRAMES,
					abortSignal,
				}) as Promise<unknown>,
		)) as Buffer;
	} catch {
		return;
	}
	if (!Buffer.isBuffer(last)) return;
	for (const frame of missedFrames(tail.recent, LogTail.frames(last))) {
		tail.writeFrame(frame);
		lineTail?.writeFrame(frame);
	}
}
