"""The custom auth of bench/auth.py, in the style of LangGraph's docs: a static token per
user, every resource stamped with its owner on create and filtered by it on read."""

from langgraph_sdk import Auth

auth = Auth()
USERS = {f"token-user-{n}": f"user-{n}" for n in range(64)}


@auth.authenticate
async def authenticate(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    user = USERS.get(token) if scheme.lower() == "bearer" else None
    if user is None:
        raise Auth.exceptions.HTTPException(status_code=401, detail="Invalid token")
    return user


@auth.on
async def owner_only(ctx: Auth.types.AuthContext, value: dict) -> dict:
    metadata = value.setdefault("metadata", {}) if isinstance(value, dict) else {}
    if metadata is not None:
        metadata["owner"] = ctx.user.identity
    return {"owner": ctx.user.identity}
