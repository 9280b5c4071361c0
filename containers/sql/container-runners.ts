/**
 * The direct runner each `SqlContainer` chose (container-parts.ts: better-sqlite3, sqlite3 with kept statements,
 * PostgreSQL in the statement mode its options ask for), for a `SqlWorkflowStore` sharing the container: one choice of
 * driver path and of statement mode (`preparedStatements`, `statementFunctions`) for both, and one statement cache.
 */
import type { RunRows } from './pooled-statement.js';

export const containerRunners = new WeakMap<object, RunRows>();
