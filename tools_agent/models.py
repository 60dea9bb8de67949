"""The chat model of a run: any `init_chat_model` provider, or an OpenAI-compatible URL.

Settings that cannot work (no key, a provider package that is not installed, an unknown
provider) raise `AgentConfigurationError` with a message that says what to change; the
server shows it as the run's error event.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any

from langchain.chat_models import init_chat_model
from langchain_core.language_models import BaseChatModel
from pydantic import SecretStr

from tools_agent.context import AgentContext

__all__ = ["PROVIDER_KEY_VARIABLES", "AgentConfigurationError", "build_model"]

# Where each hosted provider's SDK looks for its key. Providers not listed (ollama,
# bedrock, vertex AI, ...) authenticate some other way and are not checked.
PROVIDER_KEY_VARIABLES: dict[str, tuple[str, ...]] = {
    "openai": ("OPENAI_API_KEY",),
    "azure_openai": ("AZURE_OPENAI_API_KEY",),
    "anthropic": ("ANTHROPIC_API_KEY",),
    "google_genai": ("GOOGLE_API_KEY", "GEMINI_API_KEY"),
    "mistralai": ("MISTRAL_API_KEY",),
    "groq": ("GROQ_API_KEY",),
    "cohere": ("COHERE_API_KEY",),
    "fireworks": ("FIREWORKS_API_KEY",),
    "together": ("TOGETHER_API_KEY",),
    "deepseek": ("DEEPSEEK_API_KEY",),
    "xai": ("XAI_API_KEY",),
    "perplexity": ("PPLX_API_KEY", "PERPLEXITY_API_KEY"),
    "nvidia": ("NVIDIA_API_KEY",),
    "huggingface": ("HUGGINGFACEHUB_API_TOKEN", "HF_TOKEN"),
}
# Local OpenAI-compatible servers ignore the key, but the OpenAI client insists on one.
NO_KEY = "not-needed"
_CACHE_SIZE = 32
_models: OrderedDict[tuple[Any, ...], BaseChatModel] = OrderedDict()


class AgentConfigurationError(ValueError):
    """The agent's settings cannot work; the message says what to change."""


def build_model(settings: AgentContext) -> BaseChatModel:
    """The chat model for these settings (instances are reused: they are stateless)."""
    key = (
        settings.model_name,
        settings.model,
        settings.base_url,
        settings.api_key,
        settings.temperature,
        settings.max_tokens,
        _key_fingerprint(settings),
    )
    model = _models.get(key)
    if model is None:
        model = _create(settings)
        _models[key] = model
        while len(_models) > _CACHE_SIZE:
            _models.popitem(last=False)
    else:
        _models.move_to_end(key)
    return model


def _key_fingerprint(settings: AgentContext) -> tuple[str | None, ...]:
    """The environment keys a model would pick up, so a changed variable takes effect."""
    if settings.api_key or settings.base_url:
        return ()
    provider = _provider_or_none(settings.model_name)
    return tuple(os.environ.get(name) for name in PROVIDER_KEY_VARIABLES.get(provider or "", ()))


def _sampling(settings: AgentContext) -> dict[str, Any]:
    return {
        name: value
        for name in ("temperature", "max_tokens")
        if (value := getattr(settings, name)) is not None
    }


def _create(settings: AgentContext) -> BaseChatModel:
    if settings.base_url and _openai_compatible(settings):
        return _openai_compatible_model(settings)
    model_id, provider = _parse(settings.model_name)
    kwargs = _sampling(settings)
    if settings.base_url:
        kwargs["base_url"] = settings.base_url
    if settings.api_key:
        kwargs["api_key"] = settings.api_key
    elif not settings.base_url:
        variables = PROVIDER_KEY_VARIABLES.get(provider, ())
        if variables and not any(os.environ.get(name) for name in variables):
            names = variables[0] + "".join(f" (or {name})" for name in variables[1:])
            raise AgentConfigurationError(
                f"No API key for provider '{provider}': set {names} or configure base_url"
            )
    try:
        return init_chat_model(model_id, model_provider=provider, **kwargs)
    except ImportError as exc:
        raise AgentConfigurationError(
            f"Provider '{provider}' is not installed on this server: {exc}"
        ) from None
    except (ValueError, TypeError) as exc:
        raise AgentConfigurationError(
            f"Cannot use model '{settings.model_name}': {_first_line(exc)}"
        ) from None


def _openai_compatible(settings: AgentContext) -> bool:
    """A base_url means an OpenAI-compatible server, unless the model names another
    provider (then base_url is that provider's proxy) and no separate `model` is set."""
    if settings.model:
        return True
    provider = _provider_or_none(settings.model_name)
    return provider in (None, "openai")


def _openai_compatible_model(settings: AgentContext) -> BaseChatModel:
    try:
        from langchain_openai import ChatOpenAI
    except ImportError:
        raise AgentConfigurationError(
            "base_url needs the langchain-openai package: pip install langchain-openai"
        ) from None
    model_id = settings.model or _strip_provider(settings.model_name)
    sampling = _sampling(settings)
    if (max_tokens := sampling.pop("max_tokens", None)) is not None:
        # ChatOpenAI sends OpenAI's newer `max_completion_tokens`; local servers (Ollama,
        # llama.cpp, LM Studio) know `max_tokens`.
        sampling["extra_body"] = {"max_tokens": max_tokens}
    # The key is never taken from OPENAI_API_KEY here: it would go to a third-party URL.
    return ChatOpenAI(
        model=model_id,
        base_url=settings.base_url,
        api_key=SecretStr(settings.api_key or NO_KEY),
        **sampling,
    )


def _parse(model_name: str) -> tuple[str, str]:
    """`(model, provider)` the way `init_chat_model` reads "provider:model"."""
    try:
        from langchain.chat_models.base import _parse_model
    except ImportError:  # pragma: no cover - the private helper moved
        provider, _, model = model_name.partition(":")
        if not model:
            raise AgentConfigurationError(_unknown_provider(model_name)) from None
        return model, provider
    try:
        return _parse_model(model_name, None)
    except ValueError:
        raise AgentConfigurationError(_unknown_provider(model_name)) from None


def _provider_or_none(model_name: str) -> str | None:
    try:
        return _parse(model_name)[1]
    except AgentConfigurationError:
        return None


def _strip_provider(model_name: str) -> str:
    provider = _provider_or_none(model_name)
    if provider and model_name.lower().startswith(f"{provider}:"):
        return model_name.split(":", 1)[1]
    return model_name


def _unknown_provider(model_name: str) -> str:
    return (
        f"Cannot tell the provider of model '{model_name}': write model_name as "
        "'provider:model' (openai, anthropic, google_genai, mistralai, groq, ollama, ...), "
        "or set base_url for an OpenAI-compatible server"
    )


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
