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
 * with no change, sets it back. The last read after a change is made once more after a quiet gap, since a change of
 * the log can come before its commit shows (see `#check`). A change that comes while this process's connection is settled (not taken, and
 * given back two turns of the event loop ago: connection-activity.ts; counted on a knex instance the container
 * made) cannot be one of its own commits, whose change comes while it writes or right after: it cuts the gap short
 * and is read at once. So another process's commit wakes this one at once when it is idle, even between its own
 * commits, and within `MAX_GAP_MS` when it comes while this process is using its connection (or on a knex instance
 * of the caller's, whose use is not counted). Without the cut, a producer committing every few milliseconds could
 * fall into step with the gaps, its commits each waiting out a gap that had grown to 10-50 ms. A change seen by
 * nobody (an event the OS dropped) is covered by a slow safety wake every `safetyMs`. When the folder cannot be watched (no inotify watches left, a file system
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
	/**
	 * Whether this process's connection is settled (connection-activity.ts): a change then is another process's
	 * commit. Absent when not known (every change then waits for its gap).
	 */
	readonly settled?: () => boolean;
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
	/** Ends the gap after a read at once (while the channel waits it out), else null. */
	#cut: (() => void) | null = null;
	/** The last `data_version` seen (null: none yet). */
	#seen: number | null = null;
	#down = false;
	#closed = false;
	/** Called on every change of the log, this process's commits included (`observe`). */
	readonly #observers = new Set<() => void>();

	constructor(options: FileWakeChannelOptions) {
		this.#options = options;
	}

	/** Whether the folder is being watched (started, not broken, not closed). */
	get up(): boolean {
		return this.#watcher !== null && !this.#down && !this.#closed;
	}

	/**
	 * Call `listener` on every change of the log, this process's own commits included, unfiltered (a change log
	 * follower reads its table on each: any commit may have recorded a change). Starts watching. Returns the
	 * unsubscribe.
	 */
	observe(listener: () => void): () => void {
		this.#observers.add(listener);
		this.start();
		return () => this.#observers.delete(listener);
	}

	/** Start watching (idempotent). */
	start(): void {
		if (this.#watcher !== null || this.#down || this.#closed) return;
		const log = `${basename(this.#options.file)}-wal`;
		try {
			this.#watcher = watch(dirname(this.#options.file), { persistent: false }, (_event, name) => {
				// Some platforms do not say which file changed: wake then too.
				if (name !== null && String(name) !== log) return;
				for (const observer of this.#observers) observer();
				this.#changed();
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
			// Not one of this process's commits: another process's, to be looked at now (see the top of the file).
			if (this.#cut !== null && this.#options.settled?.() === true) this.#cut();
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
		// Whether the read about to be made follows a change at once. The log's change can come before its commit
		// shows: a commit writes its frames to the log, then marks itself committed in the shared index, and a read
		// between the two finds nothing new. So a read that followed a change is made once more after a quiet gap
		// (5 Dec 2026: a faster read missed another process's commit that way, and with it the wake).
		let followsChange = true;
		let more: boolean;
		do {
			this.#again = false;
			const version = await this.#options.version().catch(() => null);
			if (this.#closed || this.#down) return;
			if (version === null || version !== this.#seen) {
				this.#seen = version;
				this.#options.emit({ type: 'wake' });
				gap = MIN_GAP_MS;
			} else gap = Math.min(gap * 2, MAX_GAP_MS);
			await this.#gap(gap);
			more = this.#again || followsChange;
			followsChange = this.#again;
		} while (more && !this.#closed);
	}

	/** Wait `ms`, or less when a change cuts the wait short (`#changed`). */
	#gap(ms: number): Promise<void> {
		return new Promise((resolve) => {
			const end = (): void => {
				clearTimeout(timer);
				this.#cut = null;
				resolve();
			};
			const timer = setTimeout(end, ms);
			timer.unref?.();
			this.#cut = end;
		});
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
		this.#observers.clear();
		this.#stop();
	}
}
