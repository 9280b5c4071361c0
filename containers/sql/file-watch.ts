/**
 * SQLite's wake-up channel: SQLite has no notifications, but every commit, by any process, writes the database's
 * write-ahead log (`<file>-wal`, the container runs SQLite in WAL mode). The channel watches the folder of the file
 * (`fs.watch`: inotify on Linux, FSEvents on macOS, ReadDirectoryChangesW on Windows; the folder, not the file, so
 * it survives the log being deleted and made again) and turns a change of the log into a `wake` signal: an idle
 * scheduler in another process claims a task added elsewhere at once instead of at its next poll.
 *
 * Not every change is news: the scheduler's own commits change the log too, and a wake for them would make it
 * claim, and a claim that writes (a limited claim records its window) would wake it again, and so on. So on a
 * change the channel reads `PRAGMA data_version` through the container's connection, which moves only when
 * ANOTHER connection committed, and wakes only then. The first change after a quiet spell is read at once; changes
 * during a read's gap are looked at together by the next read. The gap starts at `MIN_GAP_MS` and doubles (up to
 * `MAX_GAP_MS`) after each read that found only this process's own commits, so a busy process pays a read per
 * `MAX_GAP_MS` of writing rather than one per few commits; a read that finds another connection's commit, or a gap
 * with no change, sets it back. So another process's commit wakes this one at once when it is idle, and within
 * `MAX_GAP_MS` while its own commits keep the log changing. A change seen by nobody (an event the OS dropped) is covered
 * by a slow safety wake every `safetyMs`. When the folder cannot be watched (no inotify watches left, a file system
 * without change events) the channel reports itself down once and schedulers poll at `pollIntervalMs`, as they
 * did before the channel existed.
 */
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { ContainerError, type ContainerSignal } from 'lightsched';

/** The least time between two `data_version` reads (and so between two wakes). */
const MIN_GAP_MS = 5;
/** The most: the gap after reads that found only this process's own commits (see the top of the file). */
export const MAX_GAP_MS = 50;

export interface FileWakeChannelOptions {
	/** The SQLite database file. */
	readonly file: string;
	readonly emit: (signal: ContainerSignal) => void;
	/** The safety wake-up's interval. */
	readonly safetyMs: number;
	/**
	 * `PRAGMA data_version` on the container's connection (it moves when another connection commits); a rejection
	 * counts as a change.
	 */
	readonly version: () => Promise<number>;
}

/** The database file of a knex SQLite configuration, or null when there is none to watch (`:memory:`, ''). */
export function sqliteFileOf(connection: unknown): string | null {
	const filename =
		typeof connection === 'object' && connection !== null
			? (connection as { filename?: unknown }).filename
			: connection;
	if (typeof filename !== 'string' || filename === '' || filename === ':memory:' || filename.startsWith('file:'))
		return null;
	return resolve(filename);
}

export class FileWakeChannel {
	readonly #options: FileWakeChannelOptions;
	#watcher: FSWatcher | null = null;
	#safety: ReturnType<typeof setInterval> | undefined;
	/** A `data_version` read on its way, and whether a change came meanwhile. */
	#checking = false;
	#again = false;
	/** The last `data_version` seen (null: none yet). */
	#seen: number | null = null;
	#down = false;
	#closed = false;

	constructor(options: FileWakeChannelOptions) {
		this.#options = options;
	}

	/** Start watching (idempotent). */
	start(): void {
		if (this.#watcher !== null || this.#down || this.#closed) return;
		const log = `${basename(this.#options.file)}-wal`;
		try {
			this.#watcher = watch(dirname(this.#options.file), { persistent: false }, (_event, name) => {
				// Some platforms do not say which file changed: wake then too.
				if (name === null || String(name) === log) this.#changed();
			});
		} catch (error) {
			// Reported after `watch` returns, so the scheduler's listener is in place.
			queueMicrotask(() => this.#broken(error));
			return;
		}
		this.#watcher.on('error', (error) => this.#broken(error));
		// The version to compare the first change with.
		this.#options.version().then(
			(version) => {
				this.#seen ??= version;
			},
			() => undefined,
		);
		this.#safety = setInterval(() => this.#options.emit({ type: 'wake' }), this.#options.safetyMs);
		this.#safety.unref?.();
	}

	#changed(): void {
		if (this.#checking) {
			this.#again = true;
			return;
		}
		this.#checking = true;
		void this.#check().finally(() => {
			this.#checking = false;
		});
	}

	/**
	 * Read `data_version` until no change came during the gap after a read; wake when another connection committed.
	 * The gap grows while reads find only own commits, and starts over at the next quiet spell (see the top).
	 */
	async #check(): Promise<void> {
		let gap = MIN_GAP_MS;
		do {
			this.#again = false;
			const version = await this.#options.version().catch(() => null);
			if (this.#closed || this.#down) return;
			if (version === null || version !== this.#seen) {
				this.#seen = version;
				this.#options.emit({ type: 'wake' });
				gap = MIN_GAP_MS;
			} else gap = Math.min(gap * 2, MAX_GAP_MS);
			await new Promise((resolve) => setTimeout(resolve, gap).unref?.());
		} while (this.#again && !this.#closed);
	}

	#broken(error: unknown): void {
		if (this.#closed || this.#down) return;
		this.#down = true;
		this.#stop();
		const cause = error instanceof Error ? error : new Error(String(error));
		this.#options.emit({
			type: 'channel',
			ok: false,
			error: new ContainerError(
				`SQLite wake-up channel (watching ${dirname(this.#options.file)}) down, schedulers poll: ${cause.message}`,
				{ cause },
			),
		});
	}

	#stop(): void {
		clearInterval(this.#safety);
		this.#watcher?.close();
		this.#watcher = null;
	}

	close(): void {
		this.#closed = true;
		this.#stop();
	}
}
