"""The emulator's own protocol beside DashScope's: the headers it reads and writes, and the
routes of its admin API. README documents them for users; every other use imports them here.
"""

from __future__ import annotations

# a request header: fault rules (JSON) for the request carrying it
FAULT_HEADER = "X-Wanform-Fault"
# a response header: the spec/guesses.yaml ids an answer's content rests on, comma-separated
UNVERIFIED_HEADER = "X-Wanform-Unverified"
# a request header: the per-process token a browser needs to change the emulator's state
TOKEN_HEADER = "X-Wanform-Token"

ADMIN_PREFIX = "/__emulator"
RESET = ADMIN_PREFIX + "/reset"
CLOCK = ADMIN_PREFIX + "/clock"
CLOCK_ADVANCE = CLOCK + "/advance"
FAULTS = ADMIN_PREFIX + "/faults"
REQUESTS = ADMIN_PREFIX + "/requests"  # the request log
JOURNAL = ADMIN_PREFIX + "/journal"  # the request log's first name, still served
HOLD = ADMIN_PREFIX + "/hold"
RELEASE = ADMIN_PREFIX + "/release"
TASKS = ADMIN_PREFIX + "/tasks"
ACCOUNTS = ADMIN_PREFIX + "/accounts"
# a small PNG of result image `index` (from 0) of a task: a route as aiohttp matches it, and with
# str.format a link to one
TASK_IMAGE = TASKS + "/{task_id}/images/{index}"
UI = ADMIN_PREFIX + "/ui/"
