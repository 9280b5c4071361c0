/**
 * The tokens that tell a script call sent again from another call: ioredis sends a call again after a reconnect
 * lost its reply, and the script finds its own token stored (a task's `addToken`, a transition's `lastTransition`,
 * a run's `tok`) and does not apply it twice. Unique enough: this process's random prefix (72 bits, 12 characters of
 * base64url), then a counter in base 36. They are stored in hashes and the append-only file with every step, so
 * short: 13 to 16 characters where a UUID took 36 (about 60 bytes less a workflow step).
 */
import { randomBytes } from 'node:crypto';

const PREFIX = randomBytes(9).toString('base64url');
let count = 0;

/** A token no other call of any process is given (a fixed-length random prefix, then this process's count). */
export function callToken(): string {
	return PREFIX + (++count).toString(36);
}
