"""`checkpointer.ttl` in langgraph.json: parsed once, bad values refused with a reason."""

from __future__ import annotations

import pytest

from robyn_server.storage.thread_ttl import ThreadTTLConfigError, ThreadTTLSettings


def test_no_ttl_section_means_no_default() -> None:
    settings = ThreadTTLSettings.from_checkpointer_config({})
    assert settings.default_record() is None
    assert settings.sweep_interval_minutes == 5.0


def test_defaults_become_the_record_new_threads_get() -> None:
    settings = ThreadTTLSettings.from_checkpointer_config(
        {"ttl": {"strategy": "keep_latest", "default_ttl": 1440, "sweep_interval_minutes": 10}}
    )
    assert settings.default_record() == {"strategy": "keep_latest", "ttl_minutes": 1440.0}
    assert settings.sweep_interval_minutes == 10.0


@pytest.mark.parametrize(
    "ttl",
    [
        {"strategy": "archive"},
        {"default_ttl": 0},
        {"default_ttl": "1 day"},
        {"sweep_interval_minutes": -1},
        {"default_ttl": True},
        "delete",
    ],
)
def test_bad_values_are_refused(ttl: object) -> None:
    with pytest.raises(ThreadTTLConfigError):
        ThreadTTLSettings.from_checkpointer_config({"ttl": ttl})
