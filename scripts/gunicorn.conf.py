"""gunicorn settings of the API, the same for `make run`, the Docker image and the tests (`gunicorn -c` this file).

gevent workers: every connection is a greenlet, so a phone that sends its upload slowly, or stops sending, costs a
few kilobytes and takes nothing from other requests (a thread per request would be held for the whole body).
The code keeps its side of that bargain: upload bodies stream in only after the request has given its database
connection back, small bodies are read whole before a view runs, psycopg waits for PostgreSQL through gevent, and
fsync, whole-file hashing and password hashing run on native helper threads (media.background). The address is
given on the command line (`--bind`); WEB_CONCURRENCY sets the number of worker processes.

gevent patches the standard library when a worker starts, before it imports the app; nothing here imports the app
(and preload_app stays off), or psycopg and SQLAlchemy would keep the unpatched, blocking waits.
"""

import gc
import os
import resource

wsgi_app = "backend:create_app()"
worker_class = "gevent"
workers = int(os.environ.get("WEB_CONCURRENCY") or 2)
worker_connections = 1000   # open connections per worker, slow uploads included
preload_app = False
timeout = 60                # a worker whose event loop stalls this long is restarted (requests may last longer)
graceful_timeout = 30       # uploads still running at a restart are cut off there and resume from their offset
keepalive = 30              # phones send chunk after chunk on one connection; an idle one costs only a greenlet
accesslog = "-"
# gunicorn's control socket has one default path per user ($HOME/.gunicorn/gunicorn.ctl): several servers on one
# machine (tests, benchmarks, a second checkout) would take it from each other, and nothing here uses gunicornc.
control_socket_disable = True


def on_starting(_server):  # type: ignore[no-untyped-def]
    """An upload's connection holds three files (the socket, the upload's data and its lock): let every worker keep
    that many for all its connections, within what the system allows (the soft limit is often only 1,024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 3 * worker_connections + 256
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted if hard == resource.RLIM_INFINITY else min(wanted, hard),
                                                    hard))


def post_worker_init(_worker):  # type: ignore[no-untyped-def]
    """The worker has built the app: its modules, mappers and the dictionaries of pypinyin and OpenCC, some 400,000
    objects that live as long as the worker. Move them out of the cyclic garbage collector's way: otherwise every
    full collection walks them all (80 ms on a 2-core machine), every few requests that allocate much, such as a
    search, and those requests answer 80 ms late."""
    gc.collect()
    gc.freeze()
