"""The dashboard shows each `run_python` call: code, whole output, figures; saved copies too."""

from __future__ import annotations

import base64
import re

from widget_fakes import fake_pacing

from deepagents_nb import ToolCall, create_deep_agent
from deepagents_nb.models.testing import ScriptedModel
from deepagents_nb.notebook.widgets import RunView

PLOT = (
    "import matplotlib.pyplot as plt\n"
    "fig, ax = plt.subplots()\n"
    "ax.bar(['a', 'b'], [3, 5])\n"
    "print('owner: jane.doe@example.com')\n"
    "print('\\n'.join(f'row {i}' for i in range(300)))"
)


def test_a_code_run_shows_its_code_output_and_figure_live_and_saved() -> None:
    model = ScriptedModel([ToolCall("run_python", {"code": PLOT}, id="c1"), "Drawn."])
    with create_deep_agent(model=model, python="isolated") as agent:
        view = RunView(agent, "plots", pacing=fake_pacing())
        view.run("Plot it")

    log = view.dashboard.event_log.html
    assert "🐍 <code>run_python</code>" in log and "<details open class='dnb-tool dnb-code'>" in log
    # The code, highlighted with inline colours (no stylesheet needed in a saved copy).
    assert 'style="color: #' in log and "subplots" in log
    # The whole output from the thread, not the event's short preview; PII redacted.
    assert "row 299" in log and "[EMAIL]" in log and "jane.doe" not in log
    images = re.findall(r"src='data:image/png;base64,([^']+)'", log)
    assert len(images) == 1
    assert base64.b64decode(images[0]).startswith(b"\x89PNG")
    assert images[0] in view.static_html()  # the saved copy shows the figure without a kernel


def test_a_failed_code_run_shows_its_traceback_in_red() -> None:
    model = ScriptedModel([ToolCall("run_python", {"code": "undefined_name"}, id="c2"), "Hm."])
    with create_deep_agent(model=model, python="isolated") as agent:
        view = RunView(agent, "errors", pacing=fake_pacing())
        view.run("Try")

    log = view.dashboard.event_log.html
    assert "✗ failed" in log and "NameError: name &#x27;undefined_name&#x27; is not defined" in log
    assert "<img" not in log
