"""Training progress: plain periodic lines in a log file, a live tqdm bar on a terminal."""

import io
import re

from conftest import single_job, tiny_study

from gansweep.training.progress import TrainingProgress
from gansweep.training.ring import RingTrainer


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_ring_training_writes_plain_periodic_lines_to_a_log_file():
    spec = single_job(tiny_study(train={"steps": 12}, execution={"log_every": 5}))
    log = io.StringIO()
    RingTrainer(spec).fit(None, log)
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue()  # no redrawn bar in a file
    assert [re.search(r"step (\d+)/12", line).group(1) for line in lines] == ["5", "10", "12"]
    # label, step, percent, elapsed<ETA, rate, epoch, run throughput, diverged runs
    pattern = (
        r"^t/\S+ step 10/12 \(83%\) \[\d\d:\d\d<\d\d:\d\d, +[\d.]+(step/s|s/step), "
        r"epoch=1\.25, run-steps/s=\d+, diverged=0/8\]$"
    )
    assert re.match(pattern, lines[1]), lines[1]


def test_a_terminal_gets_a_live_bar_with_rate_and_eta():
    spec = single_job(tiny_study(train={"steps": 12}, execution={"log_every": 5}))
    term = Terminal()
    RingTrainer(spec).fit(None, term)
    out = term.getvalue()
    assert "\r" in out and "12/12" in out and "step/s" in out
    assert "100%|" in out and "diverged=0/8" in out
    assert "step 5/12" not in out  # no plain lines on a terminal


def test_a_resumed_run_counts_its_rate_from_where_it_resumed():
    out = io.StringIO()
    progress = TrainingProgress("job", total=100, initial=60, every=20, stream=out)
    progress.update(80, {"loss": lambda: 0.5})
    progress.update(81, {"loss": lambda: 1 / 0})  # not shown, so never evaluated
    progress.write("a message")
    progress.close()
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("job step 80/100 (80%)") and lines[0].endswith(", loss=0.5]")
    assert lines[1] == "a message"
