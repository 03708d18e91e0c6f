"""Execute one notebook with papermill and show a person what it is doing; `make paper` calls it.

    python scripts/run-notebook.py --kernel tomclip --parameters-file build/params/smoke/01_data.yaml \
        --profile smoke --source notebooks/01_data.py build/notebooks/01_data.ipynb build/executed/smoke/01_data.ipynb

Papermill executes (same parameters file, kernel and working directory as its command line); this
script only reports, through papermill's engine hooks:
- before the first cell, the expected duration from the last recorded timings
  (results/<profile>/notebook_timings.csv, written by scripts/notebook-timings.py);
- a line as each code cell starts (number out of the total, elapsed time, the cell's first line);
- what the notebook prints, and its progress bars (tqdm, one line per training run) with carriage-
  return redraws collapsed and throttled, so that a CI log stays readable (`StreamFilter`);
- a "still running" line when a long cell has been silent for a while.
The executed copy is written as NN_name.ipynb.partial.ipynb and renamed when every cell has run; on
a failure it is kept as NN_name.failed.ipynb and the message names the failing cell and its line
in the source.

The kernel talks to us over IPC (Unix sockets in a private temporary folder), not TCP. Over TCP
ipykernel warns that its traffic is unencrypted; the ports were bound to 127.0.0.1, so nothing left
the machine, but with IPC there are neither open ports nor the warning.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# ipykernel's notice about its TCP transport (see the module docstring): not shown if it ever comes.
TCP_WARNING = re.compile(r"Kernel is running over TCP without encryption")
# Cursor moves and colours: tqdm's nested bars move the cursor up; a log file cannot.
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
SEPARATORS = re.compile(r"(\r|\n)")


def clock(seconds: float) -> str:
    """0:42, 12:05, 1:02:03."""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class StreamFilter:
    """Turn a stream as a terminal receives it (text, carriage-return redraws) into whole lines.

    Lines ended by a newline are kept, every one. A line that is redrawn in place (a progress bar)
    is shown once it has been drawn for `interval` seconds and then at most once per `interval`,
    and its last state when it is erased or finished: a bar shorter than `interval` (a training
    run) leaves one line, its last epoch and validation loss. Blank lines, ANSI escapes and
    ipykernel's TCP notice are dropped. Pure apart from `now`.
    """

    def __init__(self, interval: float = 60.0):
        self.interval = interval
        self.line = ""  # what has been written since the last \r or \n
        self.pending = None  # the latest redrawn state not shown yet
        self.shown = None  # the last redrawn state that was shown
        self.last_shown = -float("inf")
        self.started = None  # when the line being redrawn first appeared

    def feed(self, text: str, now: float | None = None) -> list[str]:
        now = time.monotonic() if now is None else now
        out: list[str] = []
        for piece in SEPARATORS.split(ANSI.sub("", text)):
            if piece == "\n":
                final = self.line if self.line.strip() else self.pending
                if final and final.strip() and final != self.shown:
                    out.append(final)
                self.line, self.pending, self.shown, self.started = "", None, None, None
            elif piece == "\r":
                if self.line.strip():
                    self.pending = self.line  # a redraw: this state is replaced
                elif self.pending is not None:  # erased (tqdm leave=False): its last state
                    if self.pending != self.shown:
                        out.append(self.pending)
                    self.pending, self.shown, self.started = None, None, None
                self.line = ""
            else:
                self.line += piece
        candidate = self.line if self.line.strip() else self.pending
        if candidate and self.started is None:
            self.started = now
        if candidate and candidate != self.shown and now - max(self.last_shown, self.started) >= self.interval:
            out.append(candidate)
            self.shown, self.last_shown = candidate, now
            if candidate is self.pending:
                self.pending = None
        return [line.rstrip() for line in out if not TCP_WARNING.search(line)]

    def flush(self) -> list[str]:
        """The end of a cell: whatever is still on the line."""
        final = self.line if self.line.strip() else self.pending
        self.line, self.pending, self.started = "", None, None
        shown, self.shown = self.shown, None
        if final and final.strip() and final != shown and not TCP_WARNING.search(final):
            return [final.rstrip()]
        return []


def collapse_redraws(text: str) -> str:
    """What a terminal would show of `text`: per line, the last state drawn after a carriage
    return; lines that only a redraw left blank are dropped."""
    lines = []
    for line in text.split("\n"):
        if "\r" in line:
            drawn = [part for part in line.split("\r") if part]
            line = drawn[-1] if drawn else ""
            if not line.strip():
                continue
        lines.append(line)
    return "\n".join(lines)


def tidy_streams(outputs: list) -> list:
    """A cell's outputs as a front end shows them: consecutive stream outputs of one name merged
    (ipykernel sends one per flush, hundreds for a progress bar), carriage-return redraws collapsed,
    outputs that only a redraw filled removed. Other outputs keep their order."""

    def merged(outputs):
        result = []
        for output in outputs:
            if (
                output.get("output_type") == "stream"
                and result
                and result[-1].get("output_type") == "stream"
                and result[-1].get("name") == output.get("name")
            ):
                result[-1]["text"] += output["text"]
            else:
                result.append(output)
        return result

    kept = []
    for output in merged(outputs):
        if output.get("output_type") == "stream" and "\r" in output["text"]:
            output["text"] = collapse_redraws(output["text"])
            if not output["text"].strip():
                continue
        kept.append(output)
    return merged(kept)


def expected_minutes(profile: str, notebook: str, root: Path = ROOT) -> tuple[float, float] | None:
    """(this notebook, all notebooks) in minutes from results/<profile>/notebook_timings.csv, or None."""
    path = root / "results" / profile / "notebook_timings.csv"
    if not path.is_file():
        return None
    with open(path, newline="", encoding="utf-8") as handle:
        minutes = {row["notebook"]: float(row["minutes"]) for row in csv.DictReader(handle)}
    if notebook not in minutes:
        return None
    return minutes[notebook], minutes.get("all", sum(minutes.values()))


def expectation(profile: str, notebook: str, root: Path = ROOT) -> str:
    recorded = expected_minutes(profile, notebook, root)
    if recorded is None:
        return f"no recorded timings for {notebook} (profile {profile})"
    mine, total = recorded
    return (
        f"expected about {mine:.1f} min (all notebooks {total:.1f} min; last recorded run, "
        f"results/{profile}/notebook_timings.csv)"
    )


def source_line(source: Path | None, cell_source: str) -> int | None:
    """The line of `source` (a jupytext py:percent file) where a cell's code starts, if found."""
    code = cell_source.strip("\n")
    if source is None or not source.is_file() or not code.strip():
        return None
    text = source.read_text(encoding="utf-8")
    at = text.find(code)
    if at < 0:
        first = next(line for line in code.splitlines() if line.strip())
        at = text.find(first)
    return text.count("\n", 0, at) + 1 if at >= 0 else None


def shown(path: Path | str) -> str:
    """A path as the reader typed it: relative to the working directory when inside it."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def describe(cell, width: int = 60) -> str:
    """What a code cell is, for its progress line: the parameters cells by name, others by their
    first line (a regression marker such as `# NBVAL_CHECK_OUTPUT` skipped)."""
    tags = cell.get("metadata", {}).get("tags", [])
    if "injected-parameters" in tags:
        return "the profile's parameters (injected by papermill)"
    if "parameters" in tags:
        return "the notebook's default parameters"
    line = next(
        (line.strip() for line in cell.source.splitlines() if line.strip() and not line.strip().startswith("# NBVAL_")),
        "",
    )
    return line if len(line) <= width else line[: width - 3] + "..."


class Reporter:
    """Prints the progress lines of one notebook; thread-safe (a heartbeat thread prints too)."""

    def __init__(self, name: str, code_cells: int, interval: float, heartbeat: float, out=None):
        self.name, self.code_cells = name, code_cells
        self.out = out or sys.stdout
        self.filters = {"stdout": StreamFilter(interval), "stderr": StreamFilter(interval)}
        self.heartbeat = heartbeat
        self.lock = threading.Lock()
        self.start = self.cell_start = self.last_print = time.monotonic()
        self.cell = 0
        self.stop = threading.Event()
        self.thread = None

    def say(self, text: str) -> None:
        with self.lock:
            print(text, file=self.out, flush=True)
            self.last_print = time.monotonic()

    def elapsed(self) -> str:
        return clock(time.monotonic() - self.start)

    def begin_cell(self, number: int, cell) -> None:
        for lines in (f.flush() for f in self.filters.values()):
            for line in lines:
                self.say(f"   {self.name} | {line}")
        self.cell, self.cell_start = number, time.monotonic()
        self.say(f"   {self.name} cell {number}/{self.code_cells} at {self.elapsed()}: {describe(cell)}")

    def stream(self, name: str, text: str) -> None:
        for line in self.filters.setdefault(name, StreamFilter(self.filters["stdout"].interval)).feed(text):
            self.say(f"   {self.name} | {line}")

    def end(self) -> None:
        for lines in (f.flush() for f in self.filters.values()):
            for line in lines:
                self.say(f"   {self.name} | {line}")
        self.stop.set()

    def _beat(self) -> None:
        while not self.stop.wait(min(5.0, self.heartbeat)):
            now = time.monotonic()
            if self.cell and now - self.last_print >= self.heartbeat:
                self.say(
                    f"   {self.name} cell {self.cell}/{self.code_cells} still running: "
                    f"{clock(now - self.cell_start)} in this cell, {self.elapsed()} in all"
                )

    def start_heartbeat(self) -> None:
        self.thread = threading.Thread(target=self._beat, daemon=True)
        self.thread.start()


def run(args: argparse.Namespace) -> int:
    import nbformat
    import papermill
    from jupyter_client.manager import AsyncKernelManager
    from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines
    from papermill.exceptions import PapermillExecutionError
    from papermill.iorw import read_yaml_file
    from traitlets import default

    output = Path(args.output).resolve()
    partial = output.with_name(output.name + ".partial.ipynb")
    failed = output.with_name(output.stem + ".failed.ipynb")
    output.parent.mkdir(parents=True, exist_ok=True)
    failed.unlink(missing_ok=True)
    name = output.stem
    source = Path(args.source) if args.source else None
    shown_source = args.source or args.input
    parameters = (read_yaml_file(args.parameters_file) or {}) if args.parameters_file else {}  # as papermill's CLI
    notebook = nbformat.read(args.input, as_version=4)
    # +1: papermill adds a cell with the injected parameters
    code_cells = sum(cell.cell_type == "code" for cell in notebook.cells) + bool(parameters)
    interval = args.interval if args.interval is not None else (10.0 if sys.stdout.isatty() else 60.0)
    reporter = Reporter(name, code_cells, interval, args.heartbeat or 2 * interval)
    reporter.say(f"== {name} (profile {args.profile}): {code_cells} code cells; {expectation(args.profile, name)}")
    try:  # the paper's data: what this notebook is estimated to cost on GPUs (tomclip_lib/cost.py)
        from tomclip_lib.cost import notebook_line

        cost = notebook_line(args.profile, name)
    except Exception:  # noqa: BLE001 - an estimate never stops a run
        cost = None
    if cost:
        reporter.say(f"   {cost}")
    sockets = tempfile.mkdtemp(prefix="tomclip-kernel-")

    class IPCKernelManager(AsyncKernelManager):
        """The kernel's sockets are Unix sockets in a private folder (see the module docstring)."""

        @default("transport")
        def _transport_default(self):
            return "ipc"

        @default("ip")
        def _ip_default(self):
            return os.path.join(sockets, "kernel")

    class Manager(NotebookExecutionManager):
        """Papermill's bookkeeping, plus a line per code cell and tidy stream outputs."""

        code_index = 0

        def cell_start(self, cell, cell_index=None, **kwargs):
            if cell.get("cell_type") == "code":
                self.code_index += 1
                reporter.begin_cell(self.code_index, cell)
            super().cell_start(cell, cell_index, **kwargs)

        def cell_complete(self, cell, cell_index=None, **kwargs):
            if cell.get("cell_type") == "code":
                cell.outputs = tidy_streams(cell.outputs)
            super().cell_complete(cell, cell_index, **kwargs)

    class Streams:
        """The file-like objects papermill writes a cell's stdout and stderr to, as they arrive."""

        def __init__(self, stream: str):
            self.stream = stream

        def write(self, text: str) -> None:
            reporter.stream(self.stream, text)

        def flush(self) -> None:
            pass

    class Engine(NBClientEngine):
        """papermill's nbclient engine with the manager above (papermill's engine hook)."""

        @classmethod
        def execute_notebook(
            cls,
            nb,
            kernel_name,
            output_path=None,
            progress_bar=False,
            log_output=False,
            autosave_cell_every=30,
            **kwargs,
        ):
            nb_man = Manager(
                nb,
                output_path=output_path,
                progress_bar=False,
                log_output=False,
                autosave_cell_every=autosave_cell_every,
            )
            nb_man.notebook_start()
            try:
                cls.execute_managed_notebook(nb_man, kernel_name, log_output=False, **kwargs)
            finally:
                nb_man.notebook_complete()
            return nb_man.nb

    papermill_engines.register("tomclip-progress", Engine)
    # Headless, tqdm's notebook widget would report to no one: the kernel draws text bars (stderr),
    # which reach us as stream output; redraws every second at most, the filter thins them further.
    os.environ.setdefault("TQDM_MININTERVAL", "1")
    text_bars = "import tqdm.auto, tqdm.std; tqdm.auto.tqdm, tqdm.auto.trange = tqdm.std.tqdm, tqdm.std.trange"

    def keep_partial() -> None:
        """After a failure or an interruption: the notebook as far as it ran becomes NN_name.failed.ipynb."""
        reporter.end()
        if partial.exists():
            partial.rename(failed)

    reporter.start_heartbeat()
    try:
        papermill.execute_notebook(
            args.input,
            str(partial),
            parameters=parameters,
            engine_name="tomclip-progress",
            kernel_name=args.kernel,
            cwd=args.cwd or str(output.parent),
            progress_bar=False,
            log_output=False,
            stdout_file=Streams("stdout"),
            stderr_file=Streams("stderr"),
            kernel_manager_class=IPCKernelManager,
            extra_arguments=[f"--IPKernelApp.exec_lines={text_bars}"],
        )
    except PapermillExecutionError as error:
        keep_partial()
        executed = nbformat.read(failed, as_version=4) if failed.exists() else notebook
        cells = [c for c in executed.cells if c.cell_type == "code"]
        index = next(
            (i for i, c in enumerate(cells) if c.get("metadata", {}).get("papermill", {}).get("exception")), None
        )
        where = f"code cell {index + 1} of {len(cells)}" if index is not None else f"cell In [{error.exec_count}]"
        line = source_line(source, error.source)
        if line:
            where += f" ({shown_source}, line {line})"
        trace = "\n".join(error.traceback)
        print(trace if sys.stderr.isatty() else ANSI.sub("", trace), file=sys.stderr)
        print(
            f"error: notebook {shown_source} failed (profile {args.profile}) in {where} after "
            f"{reporter.elapsed()}: {error.ename}: {error.evalue}\n"
            f"       the traceback is above and in {shown(failed)}",
            file=sys.stderr,
        )
        return 1
    except BaseException:
        keep_partial()
        print(
            f"error: notebook {shown_source} stopped (profile {args.profile}) in code cell {reporter.cell} of "
            f"{code_cells} after {reporter.elapsed()}; "
            f"the partial notebook is {shown(failed)}",
            file=sys.stderr,
        )
        raise
    finally:
        reporter.stop.set()
        shutil.rmtree(sockets, ignore_errors=True)
    reporter.end()
    partial.rename(output)
    reporter.say(f"== {name} done in {reporter.elapsed()} -> {shown(output)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("input", help="the notebook to execute (build/notebooks/NN_name.ipynb)")
    parser.add_argument("output", help="the executed copy (build/executed/<profile>/NN_name.ipynb)")
    parser.add_argument("--kernel", default="tomclip")
    parser.add_argument("--parameters-file", help="YAML of the injected parameters")
    parser.add_argument("--profile", default="embedded", help="for the expected duration and messages")
    parser.add_argument("--source", help="the notebook's source (notebooks/NN_name.py), to name a failing line")
    parser.add_argument("--cwd", help="working directory of the kernel (default: the output's folder)")
    parser.add_argument(
        "--interval",
        type=float,
        help="seconds between two lines of one progress bar (default 10 on a terminal, 60 in a log)",
    )
    parser.add_argument(
        "--heartbeat", type=float, help="seconds of silence before a 'still running' line (default twice the interval)"
    )
    logging.basicConfig(level=logging.WARNING, format="papermill: %(message)s")  # as its --log-level WARNING
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
