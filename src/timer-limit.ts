/** The largest delay a Node timer accepts; a longer one fires at once (after 1 ms), so every delay option is bounded by it. */
export const MAX_TIMER_MS = 2_147_483_647;
