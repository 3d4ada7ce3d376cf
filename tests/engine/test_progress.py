"""inn_engine.progress.Progress in logs: plain lines at most every `every` seconds, a final line, or silence."""
import io

from inn_engine.progress import Progress


def test_plain_lines_with_values_eta_and_summary():
    stream = io.StringIO()
    with Progress(4, "training", unit="step", every=0.0, stream=stream) as bar:
        bar.update(1, loss=0.5)
        bar.update(3, loss=0.25)
        bar.close("best loss 0.25")
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("training: 1/4 (25 %) step, 0:00:00 elapsed, ETA") and lines[0].endswith("loss 0.5")
    assert lines[1].startswith("training: 4/4 (100 %) step")
    assert lines[-1].endswith("; best loss 0.25") and len(lines) == 3  # closing twice writes nothing more


def test_lines_are_spaced_and_silence_is_silent():
    stream = io.StringIO()
    bar = Progress(None, "simulating", unit="rows", every=3600.0, initial=10, stream=stream)
    for _ in range(5):
        bar.update(100)
    assert stream.getvalue() == ""  # within the first hour: no line yet
    bar.close()
    assert stream.getvalue().strip().startswith("simulating: 510 rows, 0:00:00 elapsed")
    quiet = io.StringIO()
    with Progress(3, "x", enabled=False, every=0.0, stream=quiet) as bar:
        bar.update(3)
    assert quiet.getvalue() == ""
