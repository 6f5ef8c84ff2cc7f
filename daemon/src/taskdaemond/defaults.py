"""Every default of the daemon, named once, with its unit."""

#: Port of the HTTP API (TaskDaemon's default).
DEFAULT_PORT = 8080
#: Address the HTTP API binds: only this host unless configured otherwise.
DEFAULT_HOST = "127.0.0.1"
#: SQLite queue file, relative to the configuration file's directory.
DEFAULT_DB_PATH = "taskdaemon.db"
#: Queue backend.
DEFAULT_QUEUE = "sqlite"
#: Order in which pending tasks are claimed.
DEFAULT_TASK_SELECTION = "fifo"
#: Seconds one attempt may run before the handler is killed.
DEFAULT_TASK_TIMEOUT = 30.0
#: Retries a task gets after retryable failures (so at most 1 + 3 attempts).
DEFAULT_MAX_RETRIES = 3
#: Tasks one claim takes from the queue.
DEFAULT_BATCH_SIZE = 64
#: Log level of the daemon.
DEFAULT_LOG_LEVEL = "info"
#: Largest request body the HTTP API accepts, in bytes (64 MiB).
DEFAULT_MAX_BODY_SIZE = 64 * 1024 * 1024
#: Seconds tasks in flight may take to finish at shutdown.
DEFAULT_SHUTDOWN_GRACE = 10.0
#: Seconds a claim on the shared PostgreSQL queue holds a task unless its daemon renews it
#: (every quarter of it); another daemon reclaims the task once it lapses.
DEFAULT_LEASE_SECONDS = 30.0
#: Seconds a completed task is kept after it finished, then pruned (a day, as Celery keeps
#: results); 0 keeps completed tasks for ever.
DEFAULT_COMPLETED_TTL = 86400.0
#: Seconds a failed, cancelled or interrupted task is kept after it finished (a week: these
#: are the tasks people inspect); 0 keeps them for ever.
DEFAULT_FAILED_TTL = 604800.0
#: Seconds between two passes of the pruner.
DEFAULT_PRUNE_INTERVAL = 10.0

#: Warm instances per task type (TaskDaemon's default).
DEFAULT_INSTANCES = 2
#: Instance selection strategy (TaskDaemon's default).
DEFAULT_HANDLER_SELECTION = "round-robin"
#: At shutdown, a task still running goes back to pending (True) or ends interrupted (False).
DEFAULT_REQUEUE_ON_INTERRUPT = True
#: Tasks an instance holds written to its stdin at once (the task in hand and those behind it);
#: 1 writes the next task only once the previous result has arrived. Per handler: prefetch.
DEFAULT_PREFETCH = 1
#: Largest prefetch: tasks written ahead wait behind the one in hand, out of every other
#: instance's reach, so a deeper pipe only adds waiting (the protocol's config schema says 256).
MAX_PREFETCH = 256

#: Priority of a task submitted without one; 0 is lowest, 100 highest.
DEFAULT_PRIORITY = 50
MIN_PRIORITY = 0
MAX_PRIORITY = 100

#: Backoff before the first retry, in seconds.
DEFAULT_BACKOFF_INITIAL = 1.0
#: Factor applied to the delay for each further retry.
DEFAULT_BACKOFF_MULTIPLIER = 2.0
#: Upper bound of any retry delay, in seconds (also caps a result's retry_after).
DEFAULT_BACKOFF_MAX = 300.0
#: Random spread of a retry delay, as a fraction of it (0.1 = +/-10%).
DEFAULT_BACKOFF_JITTER = 0.1

#: Seconds a handler gets to exit after its stdin is closed, before SIGTERM.
HANDLER_EOF_GRACE = 2.0
#: Seconds a handler gets to exit after SIGTERM, before SIGKILL.
HANDLER_TERM_GRACE = 2.0
#: Seconds to wait for a handler to exit after SIGKILL (only a process stuck in the kernel takes long).
HANDLER_KILL_WAIT = 5.0
#: Delay before the first restart of a crashed instance, in seconds.
RESTART_DELAY_INITIAL = 0.1
#: Upper bound of the restart delay of an instance that keeps crashing, in seconds.
RESTART_DELAY_MAX = 30.0
#: Consecutive failed starts or crashes after which an instance counts as crash-looping.
CRASH_LOOP_THRESHOLD = 3
#: Seconds to wait, once a handler has exited (or was killed), for its stdout and stderr to
#: close. A child that inherited them may hold them open: the daemon then kills the handler's
#: process group, waits as long again, and at last closes its own ends (logging a warning).
PIPE_CLOSE_GRACE = 1.0
#: Seconds to wait for the rest of a handler's stderr once it has exited.
STDERR_DRAIN_TIMEOUT = 1.0
#: Seconds the engine may take to remove a stopped container before the daemon gives up on it.
CONTAINER_CLEANUP_TIMEOUT = 30.0
#: Seconds ``image exists`` may take before the image check gives up.
IMAGE_CHECK_TIMEOUT = 30.0
#: Seconds between looks at the pools while shutdown waits for tasks in flight.
SHUTDOWN_POLL_INTERVAL = 0.2
#: Lines of a handler's stderr kept to explain a crash.
STDERR_TAIL_LINES = 20
#: Bytes of a handler's stderr kept to explain a crash (its last lines): what the crash message,
#: the task's traceback and /health's last_error show. Per handler: stderr_tail_bytes.
DEFAULT_STDERR_TAIL_BYTES = 8192
#: Longest stderr line logged or kept, in bytes; the rest of a longer line is dropped, and the
#: line says how many bytes were.
STDERR_LINE_BYTES = 4096
#: Bytes read from a handler's stderr at a time (stderr is read in chunks, never a line at once).
STDERR_READ_CHUNK = 256 * 1024
#: Largest stdout line read from a handler, in bytes: in effect none (1 TiB).
MAX_LINE_BYTES = 1 << 40

#: How much work one claim buffers, in seconds of the recent throughput: enough to keep fast
#: handlers busy while the next claim runs, little enough that slow tasks stay pending.
CLAIM_AHEAD_SECONDS = 0.05
#: Seconds the group writer lets outcomes gather before a commit, under load: a few
#: milliseconds of latency buy one transaction per tens of tasks instead of one per task.
GROUP_COMMIT_WINDOW = 0.002
#: Seconds between re-reads of a task a client waits for (a final status may come from
#: elsewhere: another daemon, a cancel of a pending task).
WAIT_RECHECK = 1.0
#: Milliseconds a SQLite statement waits for a lock held by another connection.
SQLITE_BUSY_TIMEOUT_MS = 5000
#: Seconds between checkpoints of the SQLite WAL (after writes only), run beside the writer
#: on the reader's connection: no commit waits for one.
SQLITE_CHECKPOINT_INTERVAL = 0.25

#: Lease renewals (and reaper passes) per lease period on a shared queue: a renewal can be
#: late by up to three quarters of the lease before another daemon reclaims the task.
RENEWALS_PER_LEASE = 4
#: Seconds to wait for a PostgreSQL connection, when connecting and when taking one from the
#: pool: the API answers 503 after this long while the database is down.
POSTGRES_CONNECT_TIMEOUT = 3.0
#: PostgreSQL connections per daemon: the claimers, the group writer and the API share them.
POSTGRES_MIN_CONNECTIONS = 2
POSTGRES_MAX_CONNECTIONS = 8
#: Seconds between attempts to get the LISTEN connection back after it broke.
POSTGRES_LISTEN_RETRY = 1.0
#: Most expired leases one reaper pass puts back.
POSTGRES_REAP_LIMIT = 10_000

#: Finished tasks one pruner transaction deletes: small, so that a batch holds the SQLite
#: writer (claims, submits, outcomes wait behind it) for a few milliseconds only.
PRUNE_BATCH = 200
#: Stored values one ``taskdaemond reencrypt`` transaction rewrites (payloads may be 64 MiB each).
REENCRYPT_BATCH = 50
#: Seconds the pruner pauses between two batches, so that claims and the API get in.
PRUNE_PAUSE = 0.005
#: Free SQLite pages one incremental_vacuum call returns to the file system (1 MiB of 4 KiB pages).
VACUUM_PAGES = 256
#: Free space the SQLite file keeps for the next inserts before the pruner gives pages back:
#: this fraction of the file, at least VACUUM_KEEP_MIN_BYTES.
VACUUM_KEEP_FRACTION = 0.25
VACUUM_KEEP_MIN_BYTES = 8 * 1024 * 1024

#: Periodic tasks ([schedules.<name>]): the time zone of a cron expression when none is given,
#: and whether a run missed while no daemon was up is run once at the next start (see
#: daemon/README.md "Periodic tasks": a missed maintenance run usually still matters, and only
#: the most recent one is run, so a long outage costs one run, not one per tick).
DEFAULT_SCHEDULE_TIMEZONE = "UTC"
DEFAULT_SCHEDULE_CATCH_UP = True
#: A schedule enqueues its runs unless `enabled = false` (kept listed, paused).
DEFAULT_SCHEDULE_ENABLED = True
#: Seconds a due time may precede the moment a daemon started looking (its start, or the end of
#: a database outage) and still count as its own, on-time run rather than a missed one: another
#: daemon sharing the queue may be that late with it.
SCHEDULE_MISFIRE_GRACE = 1.0
#: Longest sleep of the schedule loop: it wakes at the next due time, and at least this often to
#: see what other daemons sharing the queue did and to follow the wall clock if it jumped.
SCHEDULE_MAX_SLEEP = 30.0
#: Shortest sleep between two passes of the schedule loop, so that it never spins.
SCHEDULE_MIN_PAUSE = 0.01
#: Seconds before the schedule loop tries again after its database could not be reached.
SCHEDULE_RETRY_DELAY = 2.0
#: Most steps (runs enqueued, missed runs skipped, races lost to other daemons) one schedule
#: takes in one pass; the next pass, at once, goes on.
SCHEDULE_STEPS_PER_PASS = 100

#: Seconds between two looks at the queue when nothing told the scheduler to look
#: (tasks that become due, other daemons sharing a queue).
QUEUE_POLL_INTERVAL = 1.0
#: Longest wait a client may ask for with GET /api/tasks/{id}?wait=SECONDS.
MAX_LONG_POLL = 300.0
#: Tasks per page of GET /api/tasks when no limit is given, and the largest limit.
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
#: Seconds uvicorn waits for open HTTP connections at shutdown.
HTTP_SHUTDOWN_TIMEOUT = 3.0

#: Longest delay a submit may ask for, in seconds (one year): a task due later than the
#: dates the API can show would break every listing that holds it.
MAX_DELAY = 365 * 24 * 3600.0
#: Most retries a submit may ask for.
MAX_TASK_RETRIES = 1000
#: Tags a task may carry (string to string, given at submit), and the longest key and value,
#: in characters. A key holds no ":" (``?tag=key:value`` splits at the first one) nor space.
MAX_TAGS = 16
MAX_TAG_KEY_LENGTH = 64
MAX_TAG_VALUE_LENGTH = 256
#: Most dependencies one submitted task may name (``depends_on``), and most steps in one
#: workflow (POST /workflows: one transaction).
MAX_DEPENDENCIES = 1000
MAX_WORKFLOW_STEPS = 10_000
#: What a dependency failing for good (failed, cancelled, interrupted) does to its dependents
#: unless the submit or the workflow says otherwise: ``fail`` (redrivable) or ``cancel``.
DEFAULT_ON_DEPENDENCY_FAILURE = "fail"
#: Largest cursor of GET /api/tasks: the queue's sequence numbers are signed 64-bit integers.
MAX_CURSOR = 2**63 - 1
#: Deepest nesting of a request body's JSON (objects and arrays), the body itself included.
MAX_JSON_DEPTH = 200

#: Host names the HTTP API answers besides the address it binds and localhost's names.
DEFAULT_ALLOWED_HOSTS: tuple[str, ...] = ()
#: Most HTTP connections open at once; further connections are closed at once (and logged,
#: once per REFUSED_LOG_INTERVAL). Lowered at start to the open-file limit less a reserve.
DEFAULT_MAX_CONNECTIONS = 1000
#: Bytes of request bodies being read and handled at once, across all connections: past it a
#: request gets 503 with Retry-After (two bodies of the largest size).
DEFAULT_MAX_BODY_BYTES_IN_FLIGHT = 2 * DEFAULT_MAX_BODY_SIZE
#: File descriptors kept back from the connection limit for the daemon's own files (queue,
#: logs, listening sockets), plus this many per handler instance (pipes, a pidfd).
CONNECTION_FD_RESERVE = 64
FDS_PER_INSTANCE = 8
#: Seconds a client has to send a request's headers, from connecting or from its previous
#: response; then the connection is closed (idle and slow clients hold no slot for ever).
HTTP_HEADER_TIMEOUT = 10.0
#: Seconds an idle keep-alive connection stays open after a response.
HTTP_KEEP_ALIVE_TIMEOUT = 5.0
#: Seconds a request body may go without a byte arriving before the request gets 408.
HTTP_BODY_IDLE_TIMEOUT = 30.0
#: Largest request line and headers, in bytes; more gets 431.
MAX_HEADER_BYTES = 64 * 1024
#: Seconds between two log lines about refused connections or failed accepts (the ones in
#: between are counted, not logged).
REFUSED_LOG_INTERVAL = 10.0
#: Retry-After of a 503 given because the bodies in flight are over their budget, in seconds.
BODY_BUDGET_RETRY_AFTER = 1


# -- the dashboard and live events --------------------------------------------------------

#: Tasks per page of the dashboard's table.
UI_PAGE_SIZE = 50
#: Longest error text shown in a table cell (the task's page shows all of it).
ERROR_PREVIEW = 120
#: Seconds in one point of the dashboard's chart of the last hour.
BUCKET_SECONDS = 60
#: Points that chart keeps (one hour).
BUCKETS = 60
#: Seconds between re-reads of a streamed task when no news came (news may be missed: a
#: notification lost while another daemon's connection was re-established).
STREAM_RECHECK = 1.0
#: Seconds between keep-alive comments on a quiet stream (they also find closed clients).
STREAM_KEEPALIVE = 10.0
#: Seconds the stream of every task gathers news before it reads the tasks that changed.
STREAM_COALESCE = 0.25
#: Tasks the stream of every task reads per round; past it, it sends ``overflow`` instead
#: (the client reloads its view rather than receive a flood).
STREAM_MAX_PER_ROUND = 50
#: Milliseconds a browser's EventSource waits before it reconnects.
STREAM_RETRY_MS = 2000
#: Task ids in one CHANGES_CHANNEL payload (a payload is at most 8000 bytes; an id is 36).
CHANGES_PER_NOTIFY = 150
#: Changed task ids a subscription keeps between two reads; beyond, it reports an overflow.
MAX_PENDING_CHANGES = 1000
#: Most batches one pass deletes (5 million tasks at the default batch); the next pass goes on.
MAX_BATCHES_PER_PASS = 10_000
