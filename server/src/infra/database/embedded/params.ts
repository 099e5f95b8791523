/**
 * How PGlite runs PostgreSQL here: its defaults (`PGlite.defaultStartParams`, added where it
 * starts, so that this module does not load PGlite), with a 32 MB buffer pool instead of
 * 128 MB. Setting up the larger pool was half of opening the database (1.1 s of a restart's
 * 2.8 s on this machine, 0.6 s with 32 MB); the embedded database is for development and
 * tests, whose data the operating system's page cache holds anyway.
 */
export const PGLITE_EXTRA_START_PARAMS: readonly string[] = ["-c", "shared_buffers=32MB"];
