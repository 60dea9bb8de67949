"""Schemathesis hooks for .ci/fuzz.py: two things a bounded run must not do.

- Wait a century. A valid `after_seconds` delays a run by up to 100 years, and /wait,
  /join and the run streams then wait for it, as they should. Valid delays above a
  second become one second. Values outside the documented range are left alone, so their
  refusal (an OverflowError, once) is still fuzzed.
- Call random hosts. Whether a `webhook` is accepted depends on DNS (its host must
  resolve to a public address), which no document can say, and an accepted one makes the
  server POST to that host when the run ends. Webhooks are left out of generated runs;
  tests/unit/test_webhooks.py and tests/e2e/test_runs_webhooks.py cover the policy.
"""

from __future__ import annotations

from typing import Any

import schemathesis

from robyn_server.schemas.runs import MAX_AFTER_SECONDS

LONGEST_DELAY = 1.0


def _tame(body: Any) -> None:
    if not isinstance(body, dict):
        return
    after = body.get("after_seconds")
    if isinstance(after, int | float) and not isinstance(after, bool):
        if LONGEST_DELAY < after <= MAX_AFTER_SECONDS:
            body["after_seconds"] = LONGEST_DELAY
    if isinstance(body.get("webhook"), str):
        del body["webhook"]


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    if context.operation.method.upper() == "POST" and "/runs" in context.operation.path:
        for body in case.body if isinstance(case.body, list) else [case.body]:
            _tame(body)
