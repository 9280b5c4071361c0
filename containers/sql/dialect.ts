/** The database families the SQL container speaks. */
export type SqlDialect = 'sqlite' | 'pg';
