/**
 * Time-ordered ids: UUID v7 (RFC 9562) for tasks given no id and for workflow runs. The first 48 bits are the
 * milliseconds since the epoch, the next 12 a counter within the millisecond (started at a random value in its
 * lower half each millisecond, so ids made by one process sort in the order they were made), then the variant and
 * 62 random bits. Why not v4: a database keeps its id index as a B-tree, and a random id lands on a random leaf
 * page, each of which a commit then writes whole (SQLite's WAL frame, PostgreSQL's full-page image after a
 * checkpoint). Ids that grow with time land on the index's last pages: on SQLite (better-sqlite3) a workflow
 * step's release of 64 steps wrote 83 pages with random run ids and 49 with these (7 Dec 2026, docs/benchmarks.md).
 * The 62 random bits keep ids unguessable and make two processes' ids of the same millisecond differ; an id says
 * when it was made (as `createdAt` does).
 *
 * Each id is one flat string made by a single `String.fromCharCode` of its 36 character codes from pooled random
 * bytes (`crypto.randomUUID()` builds its string by concatenation, leaving a rope of some 36 pieces — about 1 KB —
 * behind every id kept: with 100,000 tasks kept that doubled the heap and the garbage collector's work).
 */
import { randomFillSync } from 'node:crypto';

/** Random bytes drawn in bulk, 16 per id (the first 8 are overwritten by the time, version and counter). */
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;
/** The character code of each hex digit. */
const HEX = new Uint8Array(16);
for (let i = 0; i < 16; i++) HEX[i] = '0123456789abcdef'.charCodeAt(i);
const DASH = 0x2d;
/** The millisecond of the last id, never less than the one before it (a clock set back keeps counting on). */
let lastMs = 0;
/** The 12-bit counter within `lastMs`. */
let counter = 0;

/** A UUID v7 made at `now` (milliseconds since the epoch; `Date.now()` when not given). */
export function timeOrderedId(now: number = Date.now()): string {
	if (poolOffset + 16 > pool.length) {
		randomFillSync(pool);
		poolOffset = 0;
	}
	const p = pool;
	const o = poolOffset;
	poolOffset += 16;
	if (now > lastMs) {
		lastMs = now;
		// A random start in the lower half leaves at least 2,048 ids for this millisecond before it moves on.
		counter = (((p[o] as number) << 8) | (p[o + 1] as number)) & 0x7ff;
	} else if (++counter > 0xfff) {
		// 4,096 ids in one millisecond: the next ones are stamped a millisecond ahead, still in order.
		lastMs++;
		counter = 0;
	}
	const high = Math.floor(lastMs / 0x1000000);
	const low = lastMs % 0x1000000;
	p[o] = (high >> 16) & 0xff;
	p[o + 1] = (high >> 8) & 0xff;
	p[o + 2] = high & 0xff;
	p[o + 3] = (low >> 16) & 0xff;
	p[o + 4] = (low >> 8) & 0xff;
	p[o + 5] = low & 0xff;
	p[o + 6] = 0x70 | (counter >> 8); // version 7, the counter's high 4 bits
	p[o + 7] = counter & 0xff;
	p[o + 8] = ((p[o + 8] as number) & 0x3f) | 0x80; // RFC 9562 variant
	return String.fromCharCode(
		hi(p, o),
		lo(p, o),
		hi(p, o + 1),
		lo(p, o + 1),
		hi(p, o + 2),
		lo(p, o + 2),
		hi(p, o + 3),
		lo(p, o + 3),
		DASH,
		hi(p, o + 4),
		lo(p, o + 4),
		hi(p, o + 5),
		lo(p, o + 5),
		DASH,
		hi(p, o + 6),
		lo(p, o + 6),
		hi(p, o + 7),
		lo(p, o + 7),
		DASH,
		hi(p, o + 8),
		lo(p, o + 8),
		hi(p, o + 9),
		lo(p, o + 9),
		DASH,
		hi(p, o + 10),
		lo(p, o + 10),
		hi(p, o + 11),
		lo(p, o + 11),
		hi(p, o + 12),
		lo(p, o + 12),
		hi(p, o + 13),
		lo(p, o + 13),
		hi(p, o + 14),
		lo(p, o + 14),
		hi(p, o + 15),
		lo(p, o + 15),
	);
}

/** The character code of the high hex digit of byte `at` of `bytes`. */
function hi(bytes: Uint8Array, at: number): number {
	return HEX[(bytes[at] as number) >> 4] as number;
}

/** The character code of the low hex digit of byte `at` of `bytes`. */
function lo(bytes: Uint8Array, at: number): number {
	return HEX[(bytes[at] as number) & 0x0f] as number;
}
