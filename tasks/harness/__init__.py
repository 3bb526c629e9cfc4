"""The harness: the whole service on one machine, for `rbsync run`, `rbsync demo` and the benchmarks.

Why a package of its own, beside `tasks/cli/` rather than inside it: none of this is a command. It is
the machinery that brings the real service processes up and down around whoever needs them, and the
benchmarks (`bench/`) need it exactly as `rbsync run` does; kept under `cli/` it read as part of the
command line, and the benchmarks reached into the CLI for it. The click commands stay in `tasks/cli/`
and use this package; nothing here imports `tasks.cli` or `web` (the receiver is started as a child
process, `python -m web`, never imported).

- `stack.py`: :class:`~tasks.harness.stack.Stack`, Redis + sandboxes or real APIs + receiver, worker, beat.
- `localredis.py`: a throw-away `redis-server` when none answers at a loopback URL.
- `processes.py`: child processes in their own process groups, supervised, stopped in order.
- `sandboxes.py`: both API sandboxes in this process, on free ports, with fresh tokens.
- `activity.py`: scripted "user" changes in the Rackbeat sandbox, so `rbsync run` shows transfers.
"""
