"""Make nbval apply `update_display_data`, as Jupyter frontends and nbconvert do.

A `%%agent` cell displays its live dashboard and, below it, a saved copy that it
updates when the run ends with a static HTML copy and a text transcript of the
run (so the saved notebook shows the run without a kernel). nbval 0.11 ignores update
messages, so it would compare the stored, updated output with the first version.
This shim holds each display that has a display id until its cell finishes,
applies the updates it gets meanwhile, then hands it to nbval.
"""

from __future__ import annotations

from typing import Any

from nbval.kernel import RunningKernel

_get_message = RunningKernel.get_message


def _get_message_with_updates(self: Any, stream: str, timeout: float | None = None) -> Any:
    held: dict[str, Any] = self.__dict__.setdefault("_held_displays", {})
    ready: list[Any] = self.__dict__.setdefault("_ready_messages", [])
    while True:
        if ready:
            return ready.pop(0)
        msg = _get_message(self, stream, timeout=timeout)
        if stream != "iopub":
            return msg
        kind, content = msg["msg_type"], msg["content"]
        display_id = content.get("transient", {}).get("display_id")
        if kind == "display_data" and display_id:
            held[display_id] = msg
            continue
        if kind == "update_display_data":
            if display_id in held:
                held[display_id]["content"]["data"] = content["data"]
                held[display_id]["content"]["metadata"] = content["metadata"]
            continue
        if kind == "status" and content.get("execution_state") == "idle":
            cell = msg["parent_header"].get("msg_id")
            for key in [k for k, m in held.items() if m["parent_header"].get("msg_id") == cell]:
                ready.append(held.pop(key))
            if ready:
                ready.append(msg)
                continue
        return msg


RunningKernel.get_message = _get_message_with_updates
