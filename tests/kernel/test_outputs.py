"""Turning a cell's outputs into what the model reads: order, images, skips, cuts."""

from __future__ import annotations

import base64

from deepagents_nb.kernel.outputs import OutputCollector, cut, frame_text, strip_ansi

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 3000


def test_outputs_keep_their_order_and_streams_are_labelled() -> None:
    out = OutputCollector()
    out.message("stream", {"name": "stdout", "text": "loading\n"})
    out.message("stream", {"name": "stdout", "text": "done\n"})
    out.message("stream", {"name": "stderr", "text": "careful\n"})
    out.message("execute_result", {"data": {"text/plain": "42"}})

    result = out.result()

    assert result.text == "loading\ndone\n[stderr]\ncareful\nOut: 42"
    assert not result.is_error and result.images == ()


def test_images_arrive_as_bytes_with_a_placeholder_in_the_text() -> None:
    out = OutputCollector()
    out.message(
        "display_data",
        {"data": {"image/png": base64.b64encode(PNG).decode(), "text/plain": "<Figure>"}},
    )
    out.display({"image/jpeg": b"\xff\xd8\xff" + b"1" * 20_000})

    result = out.result()

    assert [image.media_type for image in result.images] == ["image/png", "image/jpeg"]
    assert result.images[0].data == PNG
    assert result.text == "[image/png 3 KB: image 1]\n[image/jpeg 20 KB: image 2]"
    assert result.parts == result.images  # no text between them: only the images


def test_parts_interleave_text_and_images_for_later_content_parts() -> None:
    out = OutputCollector()
    out.stream("stdout", "before\n")
    out.display({"image/png": PNG})
    out.stream("stdout", "after\n")

    parts = out.result().parts

    assert parts[0] == "before" and parts[1] == out.result().images[0] and parts[2] == "after"


def test_binary_outputs_are_named_and_skipped() -> None:
    out = OutputCollector()
    out.display({"application/pdf": "JVBERi0=", "text/plain": "<PDF>"})
    out.display({"text/html": "<div id=plot></div>", "application/vnd.plotly.v1+json": {}})
    out.display({"image/gif": "R0lGOD=="})

    result = out.result()

    assert result.skipped == (
        "application/pdf",
        "text/html",
        "application/vnd.plotly.v1+json",
        "image/gif",
    )
    assert result.text.startswith("<PDF>\n[outputs not shown: application/pdf, text/html,")
    assert "only text and PNG/JPEG images reach you" in result.text


def test_an_error_is_an_error_result_with_its_traceback_without_colours() -> None:
    out = OutputCollector()
    out.stream("stdout", "partial\n")
    tb = ["\x1b[31m-----------\x1b[0m", "\x1b[0;31mZeroDivisionError\x1b[0m  Traceback", "1/0"]
    out.message(
        "error",
        {
            "ename": "ZeroDivisionError",
            "evalue": "division by zero",
            "traceback": [*tb, "ZeroDivisionError: division by zero"],
        },
    )

    result = out.result()

    assert result.is_error and result.error is not None
    assert result.error.name == "ZeroDivisionError"
    assert "\x1b" not in result.text and "-----" not in result.text
    assert result.text.endswith(
        "ZeroDivisionError  Traceback\n1/0\nZeroDivisionError: division by zero"
    )
    assert result.text.startswith("partial\n")


def test_long_tracebacks_keep_their_last_lines() -> None:
    out = OutputCollector()
    out.fail("RecursionError", "too deep", [f"frame {i}" for i in range(500)])

    text = out.result().text

    assert text.startswith("... [460 traceback lines cut]\nframe 460")
    assert text.endswith("frame 499")


def test_huge_output_is_cut_with_a_note_keeping_start_and_end() -> None:
    out = OutputCollector(max_chars=1000)
    out.stream("stdout", "".join(f"line {i}\n" for i in range(10_000)))

    text = out.result().text

    assert len(text) < 1100
    assert text.startswith("line 0\n") and text.endswith("line 9999")
    assert "characters cut]" in text
    total = len("".join(f"line {i}\n" for i in range(10_000)).rstrip("\n"))
    assert f"of {total:,} characters cut" in text


def test_progress_bars_keep_only_their_last_state_and_clear_output_drops_displays() -> None:
    out = OutputCollector()
    out.stream("stdout", "10%\r50%\r100%\n")
    out.display({"text/plain": "old"})
    out.clear()
    out.display({"text/plain": "new"})

    assert out.result().text == "new"
    out = OutputCollector()
    out.stream("stdout", "10%\r50%\r100%\n")
    assert out.result().text == "100%"


def test_no_output_says_so_and_too_many_images_are_noted() -> None:
    assert OutputCollector().result().text == "(no output)"
    out = OutputCollector(max_images=1)
    out.display({"image/png": PNG})
    out.display({"image/png": PNG})

    result = out.result()

    assert len(result.images) == 1
    assert result.text.endswith("[image 2 (image/png) not shown]")


def test_frame_text_is_shape_plus_a_compact_table() -> None:
    import pandas as pd

    frame = pd.DataFrame({"a": range(1000), "b": 1.5})

    text = frame_text(frame)

    assert text is not None
    assert text.startswith("DataFrame: 1000 rows \u00d7 2 columns\n")
    assert len(text.splitlines()) < 30 and "999" in text
    assert frame_text([1, 2]) is None and frame_text("text") is None


def test_cut_and_strip_ansi() -> None:
    assert cut("short", 100) == "short"
    assert strip_ansi("\x1b[1;32mok\x1b[0m \x1b]8;;http://x\x07link") == "ok link"
