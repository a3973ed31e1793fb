/**
 * libuv's pool runs file I/O, zstd (de)compression and scrypt; its default of 4 threads left restores
 * waiting on each other (measured: a 1 GiB restore 5.8 s with 4 threads, 4.5 s with 16). It is sized
 * before any work reaches it: this module is the CLI's first import.
 */
process.env["UV_THREADPOOL_SIZE"] ??= "16";
