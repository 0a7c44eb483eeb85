"""A ceiling on request bodies, answered as a 413 in the envelope.

Pure ASGI: a declared Content-Length over the limit is refused before the body is read; a
body without one (chunked) is counted as it arrives and refused once it passes the limit.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.envelope import ApiError, error_response


def too_large(max_bytes: int, max_event_bytes: int | None) -> ApiError:
    below = (f"; the broker takes at most {max_event_bytes} bytes in one message"
             if max_event_bytes else "")
    return ApiError(413, f"request body over {max_bytes} bytes{below}; send fewer or smaller "
                    "test cases", details={"max_bytes": max_bytes})


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, max_event_bytes: int | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.refusal = too_large(max_bytes, max_event_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await error_response(self.refusal)(scope, receive, send)
            return
        received = 0
        refused = False

        async def receive_within_limit() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Answer now; to the route the client has gone, and what it would
                    # answer to that is dropped.
                    refused = True
                    await error_response(self.refusal)(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def send_unless_refused(message: Message) -> None:
            if not refused:
                await send(message)

        await self.app(scope, receive_within_limit, send_unless_refused)
