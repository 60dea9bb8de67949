"""Which methods each routed path answers: 405 and its Allow header, where Robyn's
per-method router would answer 404 or hand the path to another resource's route."""

from __future__ import annotations

from collections.abc import Callable


def _segments(path: str) -> list[str]:
    return path.strip("/").split("/")


def _specificity(template: list[str], segments: list[str]) -> tuple[bool, ...] | None:
    """Which segments of a matching path the template names literally; None: no match."""
    if len(template) != len(segments):
        return None
    literal: list[bool] = []
    for part, segment in zip(template, segments, strict=True):
        if part.startswith(":") and segment:
            literal.append(False)
        elif part == segment:
            literal.append(True)
        else:
            return None
    return tuple(literal)


class MethodIndex:
    """Which methods each routed path answers, for 405 responses and their Allow header.

    Path templates use Robyn's syntax (`:name` matches one segment). As in Robyn's
    router, a literal segment beats a parameter, so `/assistants/count` is a resource of
    its own, not an assistant id. Robyn routes each method on its own, though: a method
    that `/assistants/count` does not take (GET) is routed to `/assistants/:assistant_id`,
    and one that no template of the path takes (PUT) to our catch-all. Both must answer
    405 rather than 404 or a complaint about the id, which is what this index is for.
    """

    def __init__(self, routes: list[tuple[str, str]]) -> None:
        by_template: dict[str, set[str]] = {}
        for method, path in routes:
            by_template.setdefault(path, set()).add(method)
        self._templates = [
            (_segments(path), sorted(methods)) for path, methods in by_template.items()
        ]

    def allowed(self, path: str) -> list[str]:
        """The methods of the resource `path` names; empty for no resource."""
        segments = _segments(path)
        best: tuple[bool, ...] | None = None
        found: list[str] = []
        for template, methods in self._templates:
            rank = _specificity(template, segments)
            if rank is not None and (best is None or rank > best):
                best, found = rank, methods
        return found

    def shadowed(self, path: str) -> Callable[[str], list[str] | None] | None:
        """For the route with template `path`: a check that gives the methods of the
        more specific resource a request path names instead (so the route must answer
        405), or None when no template is more specific than this one anywhere."""
        own = _segments(path)
        siblings = [
            template
            for template, _ in self._templates
            if template != own
            and len(template) == len(own)
            and all(o.startswith(":") or o == t for o, t in zip(own, template, strict=True))
        ]
        if not siblings:
            return None

        def check(request_path: str) -> list[str] | None:
            segments = _segments(request_path)
            if any(_specificity(t, segments) is not None for t in siblings):
                return self.allowed(request_path)
            return None

        return check
