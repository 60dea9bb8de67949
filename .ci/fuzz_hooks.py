"""Schemathesis hooks for .ci/fuzz.py: two things a bounded run must not do.

- Wait a century. A valid `after_seconds` delays a run by up to 100 years, and /wait,
  /join and the run streams then wait for it, as they should. Valid delays above a
  second become one second. Values outside the documented range are left alone, so their
  refusal (an OverflowError, once) is still fuzzed.
- Call random hosts. Whether a `webhook` is accepted depends on DNS (its host must
  resolve to a public address), which no document can say, and an accepted one makes the
  server POST to that host when the run ends. Webhooks are left out of generated runs;
  tests/unit/test_webhooks.py and tests/e2e/test_runs_webhooks.py cover the policy.
- Send cron grammar it cannot know. A cron's `schedule` follows croniter's grammar and
  its `timezone` names an IANA zone, which no JSON Schema states; a string that is
  neither gets a 422 naming it (tests/e2e/test_crons.py). Generated strings that are not
  valid ones become a yearly schedule and UTC, so the rest of each body is fuzzed, and
  the crons it creates do not fire during the run. Non-strings are left alone.
"""

from __future__ import annotations

from typing import Any

import schemathesis

from robyn_server.errors import ValidationFailed
from robyn_server.schemas.runs import MAX_AFTER_SECONDS
from robyn_server.services.cron_schedule import check_schedule, check_timezone

LONGEST_DELAY = 1.0
YEARLY = "0 0 1 1 *"


def _tame(body: Any) -> None:
    if not isinstance(body, dict):
        return
    after = body.get("after_seconds")
    if isinstance(after, int | float) and not isinstance(after, bool):
        if LONGEST_DELAY < after <= MAX_AFTER_SECONDS:
            body["after_seconds"] = LONGEST_DELAY
    if isinstance(body.get("webhook"), str):
        del body["webhook"]


def _valid(check: Any, value: str) -> bool:
    try:
        check(value)
    except ValidationFailed:
        return False
    return True


def _cron_grammar(body: Any) -> None:
    if not isinstance(body, dict):
        return
    if isinstance(body.get("schedule"), str) and not _valid(check_schedule, body["schedule"]):
        body["schedule"] = YEARLY
    if isinstance(body.get("timezone"), str) and not _valid(check_timezone, body["timezone"]):
        body["timezone"] = "UTC"


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    if "/crons" in context.operation.path:
        _cron_grammar(case.body)
    method = context.operation.method.upper()
    if method in ("POST", "PATCH") and "/runs" in context.operation.path:
        for body in case.body if isinstance(case.body, list) else [case.body]:
            _tame(body)
