/**
 * The Docker actuator's pure parts: log demultiplexing with a bounded tail, log lines, memory sizes, item
 * translation.
 */
import { describe, expect, it } from 'vitest';
import {
	ActuatorError,
	createTaskRecord,
	InvalidTaskError,
	SchedulerError,
	TailBuffer,
	type TaskRecord,
} from 'lightsched/kit';
import { ContainerExitError, DockerExitError, formatBytes, parseMemory } from 'lightsched/actuators/docker';
import { LogTail, missedFrames, type LogFrame } from '../../actuators/docker/logs.js';
import { LogLines, MAX_DOCKER_LOG_LINE, STDERR_PREFIX } from '../../actuators/docker/log-lines.js';
import { resolveDockerItem } from '../../actuators/docker/item.js';
import { judgeOrphan } from '../../actuators/docker/orphans.js';

function frame(stream: 1 | 2, text: string | Buffer): Buffer {
	const body = typeof text === 'string' ? Buffer.from(text) : text;
	const header = Buffer.alloc(8);
	header[0] = stream;
	header.writeUInt32BE(body.length, 4);
	return Buffer.concat([header, body]);
}

describe('LogLines', () => {
	it('splits both streams into lines at any cut of the multiplexed stream, a character split across chunks kept whole', () => {
		const all = Buffer.concat([
			frame(1, 'é one\r\nout '),
			frame(2, 'err one\n'),
			frame(1, 'two\n'),
			frame(2, 'no newline ✓'),
		]);
		for (let cut = 1; cut < all.length; cut++) {
			const lines: string[] = [];
			const tail = new LogTail(1000, new LogLines((line) => lines.push(line)));
			tail.write(all.subarray(0, cut));
			tail.write(all.subarray(cut));
			// The partial last line of stderr waits for the end of the stream (LogTail.read ends it).
			expect(lines).toEqual(['é one', `${STDERR_PREFIX}err one`, 'out two']);
		}
		const lines: string[] = [];
		const splitter = new LogLines((line) => lines.push(line));
		const text = Buffer.from('a€b\n');
		for (const byte of text) splitter.stdout.write(Buffer.from([byte]));
		splitter.stderr.write(Buffer.from('tail'));
		splitter.end();
		expect(lines).toEqual(['a€b', `${STDERR_PREFIX}tail`]);
	});

	it('cuts a long line at the bound, skips its rest up to the newline, and keeps memory bounded without one', () => {
		const lines: string[] = [];
		const splitter = new LogLines((line) => lines.push(line));
		for (let i = 0; i < 10; i++) splitter.stdout.write(Buffer.from('x'.repeat(5_000)));
		splitter.stdout.write(Buffer.from('yyy\nnext\n'));
		splitter.stderr.write(Buffer.from(`${'e'.repeat(MAX_DOCKER_LOG_LINE)}\n`));
		splitter.stdout.write(Buffer.from('z'.repeat(MAX_DOCKER_LOG_LINE)));
		splitter.end();
		expect(lines).toEqual([
			`${'x'.repeat(MAX_DOCKER_LOG_LINE - 1)}…`,
			'next',
			`${STDERR_PREFIX}${'e'.repeat(MAX_DOCKER_LOG_LINE - STDERR_PREFIX.length - 1)}…`,
			'z'.repeat(MAX_DOCKER_LOG_LINE),
		]);
		expect(lines.every((line) => line.length <= MAX_DOCKER_LOG_LINE)).toBe(true);
	});
});

describe('missedFrames', () => {
	const f = (text: string, stream: 'stdout' | 'stderr' = 'stdout'): LogFrame => ({ stream, data: Buffer.from(text) });
	it('finds the frames a follow stream missed at its end, by the longest overlap', () => {
		const seen = [f('a\n'), f('b\n', 'stderr'), f('c\n')];
		expect(missedFrames(seen, [f('a\n'), f('b\n', 'stderr'), f('c\n')])).toEqual([]);
		expect(missedFrames(seen, [f('b\n', 'stderr'), f('c\n'), f('tail')])).toEqual([f('tail')]);
		expect(missedFrames([], [f('only')])).toEqual([f('only')]);
		// The same line again: the one the stream missed is still found.
		expect(missedFrames([f('y\n'), f('y\n')], [f('y\n'), f('y\n'), f('y\n')])).toEqual([f('y\n')]);
		// Another stream's frame with the same bytes is another frame.
		expect(missedFrames([f('x\n')], [f('x\n'), f('x\n', 'stderr')])).toEqual([f('x\n', 'stderr')]);
		// Reads that do not line up add nothing rather than lines twice.
		expect(
			missedFrames(
				[f('a\n')],
				[1, 2, 3, 4, 5, 6].map((i) => f(`${i}\n`)),
			),
		).toEqual([]);
	});

	it('LogTail remembers the last frames of a stream cut anywhere, and writeFrame adds one to the tails and lines', () => {
		const all = Buffer.concat([frame(1, 'one\n'), frame(2, 'two\n'), frame(1, 'thr'), frame(1, 'ee\n')]);
		for (let cut = 1; cut < all.length; cut++) {
			const lines: string[] = [];
			const splitter = new LogLines((line) => lines.push(line));
			const tail = new LogTail(1000, splitter);
			tail.write(all.subarray(0, cut));
			tail.write(all.subarray(cut));
			expect(tail.recent).toEqual([f('one\n'), f('two\n', 'stderr'), f('thr'), f('ee\n')]);
			expect(LogTail.frames(all)).toEqual(tail.recent);
			tail.writeFrame(f('last'));
			splitter.end();
			expect(tail.stdout.toString()).toBe('one\nthree\nlast');
			expect(lines).toEqual(['one', `${STDERR_PREFIX}two`, 'three', 'last']);
		}
	});
});

describe('LogTail', () => {
	it('demultiplexes frames split at any byte', () => {
		const all = Buffer.concat([frame(1, 'out one\n'), frame(2, 'err one\n'), frame(1, 'out two\n')]);
		for (let cut = 1; cut < all.length; cut++) {
			const tail = new LogTail(1000);
			tail.write(all.subarray(0, cut));
			tail.write(all.subarray(cut));
			expect(tail.stdout.toString()).toBe('out one\nout two\n');
			expect(tail.stderr.toString()).toBe('err one\n');
		}
	});

	it('keeps only the last bytes, without a broken character at the start', () => {
		const tail = new TailBuffer(3);
		tail.write(Buffer.from('abc'));
		tail.write(Buffer.from('dé'));
		tail.write(Buffer.from('fg'));
		expect(tail.truncated).toBe(true);
		expect(tail.total).toBe(8);
		expect(tail.toString()).toBe('fg');
		const exact = new TailBuffer(4);
		exact.write(Buffer.from('1234'));
		expect(exact.truncated).toBe(false);
		expect(exact.toString()).toBe('1234');
		const none = new TailBuffer(0);
		none.write(Buffer.from('x'));
		expect(none.toString()).toBe('');
	});
});

describe('memory sizes', () => {
	it('parses bytes and units', () => {
		expect(parseMemory('64m')).toBe(64 * 1024 ** 2);
		expect(parseMemory('1G')).toBe(1024 ** 3);
		expect(parseMemory('8192k')).toBe(8 * 1024 ** 2);
		expect(parseMemory(7_000_000)).toBe(7_000_000);
		expect(() => parseMemory('5m')).toThrow(InvalidTaskError);
		expect(() => parseMemory('64 parsecs')).toThrow(/Expected `item\.memory` to be/);
		expect(formatBytes(32 * 1024 ** 2)).toBe('32 MiB');
	});
});

describe('resolveDockerItem', () => {
	it('turns an item into a create body with network none and no privileges', () => {
		const { create, memoryBytes } = resolveDockerItem({
			image: 'busybox',
			cmd: ['true'],
			env: ['A=1'],
			binds: ['/srv:/data:ro'],
			memory: '64m',
			entrypoint: [],
		});
		expect(create).toMatchObject({
			Image: 'busybox',
			Cmd: ['true'],
			Env: ['A=1'],
			Entrypoint: [''],
			NetworkDisabled: true,
			HostConfig: {
				NetworkMode: 'none',
				Privileged: false,
				Binds: ['/srv:/data:ro'],
				Memory: 67108864,
				MemorySwap: 67108864,
			},
		});
		expect(memoryBytes).toBe(67108864);
		expect(resolveDockerItem({ image: 'busybox', network: 'host' }).create.NetworkDisabled).toBeUndefined();
	});
});

describe('judgeOrphan', () => {
	const container = { id: 'c1', taskId: 't', owner: 'dead', running: true };
	const task = (patch: Partial<TaskRecord>): TaskRecord => ({
		...createTaskRecord({ id: 't', item: {} }, 'task', { maxAttempts: 3 }, 0),
		...patch,
	});

	it('removes containers of missing, finished or superseded tasks and keeps live or reattachable ones', () => {
		expect(judgeOrphan(container, null, 'reattach')).toEqual({ remove: true, reason: 'task-missing' });
		for (const status of ['succeeded', 'failed', 'stopped'] as const) {
			expect(judgeOrphan(container, task({ status }), 'reattach')).toEqual({
				remove: true,
				reason: 'task-finished',
			});
		}
		expect(judgeOrphan(container, task({ status: 'running', ref: 'c1', owner: 'other' }), 'kill')).toEqual({
			remove: false,
			reason: 'live-attempt',
		});
		expect(judgeOrphan(container, task({ status: 'running', ref: null, owner: 'dead' }), 'kill')).toEqual({
			remove: false,
			reason: 'live-attempt',
		});
		expect(judgeOrphan(container, task({ status: 'running', ref: 'c2', owner: 'new' }), 'reattach')).toEqual({
			remove: true,
			reason: 'superseded',
		});
		expect(judgeOrphan(container, task({ status: 'waiting' }), 'reattach')).toEqual({
			remove: false,
			reason: 'awaiting-reattach',
		});
		expect(judgeOrphan(container, task({ status: 'waiting' }), 'kill')).toEqual({
			remove: true,
			reason: 'killed-by-policy',
		});
		expect(judgeOrphan({ ...container, running: false }, task({ status: 'waiting' }), 'reattach')).toEqual({
			remove: true,
			reason: 'superseded',
		});
	});
});

describe('DockerExitError', () => {
	it('is an ActuatorError (a SchedulerError) with its own code, exit code and output', () => {
		const output = { exitCode: 3, stdout: '', stderr: 'boom\n', stdoutTruncated: false, stderrTruncated: false };
		const exit = new DockerExitError('0123456789abcdef', output, false, undefined);
		expect(exit).toBeInstanceOf(SchedulerError);
		expect(exit).toBeInstanceOf(ActuatorError);
		expect(exit).toMatchObject({
			name: 'DockerExitError',
			code: 'ERR_CONTAINER_EXIT',
			exitCode: 3,
			message: 'Container 0123456789ab exited with code 3: boom',
		});
		const oom = new DockerExitError('0123456789abcdef', { ...output, exitCode: 137 }, true, 8 * 1024 * 1024);
		expect(oom).toMatchObject({ code: 'ERR_CONTAINER_OOM', oomKilled: true });
	});

	it('keeps ContainerExitError as a deprecated alias of the same class', () => {
		const output = { exitCode: 1, stdout: '', stderr: '', stdoutTruncated: false, stderrTruncated: false };
		const old: ContainerExitError = new ContainerExitError('0123456789abcdef', output, false, undefined);
		expect(old).toBeInstanceOf(DockerExitError);
		expect(ContainerExitError).toBe(DockerExitError);
	});
});
