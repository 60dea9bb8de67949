"""Run-time settings of the tools agent, exposed to clients as the graph's context schema.

Field descriptions end up in the `context_schema` JSON Schema, which is what UIs render
as the assistant's settings form.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

DEFAULT_MODEL = "openai:gpt-4o-mini"


class AgentContext(BaseModel):
    model_name: str = Field(
        default=DEFAULT_MODEL,
        description="Chat model as 'provider:model', e.g. 'openai:gpt-4o-mini'.",
    )
    temperature: float | None = Field(
        default=None, ge=0, le=2, description="Sampling temperature; provider default if unset."
    )
    max_tokens: int | None = Field(
        default=None, gt=0, description="Maximum tokens in a reply; provider default if unset."
    )
    system_prompt: str = Field(
        default="You are a helpful assistant.",
        description="System message placed before the conversation.",
    )
    base_url: str | None = Field(
        default=None, description="Override the provider's API endpoint (proxies, local models)."
    )
    api_key: str | None = Field(
        default=None, description="API key; falls back to the provider's environment variable."
    )

    @classmethod
    def resolve(cls, context: Any, configurable: dict[str, Any] | None = None) -> AgentContext:
        """Settings for one run: defaults < `configurable` < explicit context.

        `configurable` is honoured so the graph also works when driven with plain
        RunnableConfig (as older clients and LangGraph Studio do).
        """
        values: dict[str, Any] = {
            k: v for k, v in (configurable or {}).items() if k in cls.model_fields
        }
        if isinstance(context, BaseModel):
            values.update(context.model_dump(exclude_unset=True))
        elif isinstance(context, dict):
            values.update({k: v for k, v in context.items() if k in cls.model_fields})
        return cls(**values)
