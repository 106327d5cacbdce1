"""Run files: a run saved as its config and command log (and optionally its events), and
read back, checked field by field, to be replayed event for event (docs/runfile.md).

The engine is deterministic, so config + command log *is* the run. A file that does not
hold a run is refused with a RunFileError naming the field (a JSON path such as
``command_log[3].cmd.amount``), the value found and what is allowed.
"""

from __future__ import annotations

import json
import math

from .commands import normalize_command
from .config import Config
from .errors import EngineError
from .presets import PRESETS

FORMAT = "at-most-once-run"
VERSION = 1
MAX_FILE_BYTES = 64 * 1024 * 1024  # a run file larger than this is refused unread
MAX_COMMANDS = 1_000_000


class RunFileError(EngineError):
    """A run file is malformed, of an unknown version, or holds a run the engine rejects."""


def dump_run(config: Config, command_log: list[dict], scenario: str | None = None,
             events: list[dict] | None = None) -> dict:
    """The run file of a run: everything needed to replay it exactly."""
    data = {"format": FORMAT, "version": VERSION, "scenario": scenario,
            "config": config.to_dict(), "command_log": [dict(entry) for entry in command_log]}
    if events is not None:
        data["events"] = events
    return data


def read_run_text(text: str | bytes) -> dict:
    """Parse a run file's text (JSON); RunFileError if it is too large or not JSON."""
    size = len(text.encode("utf-8") if isinstance(text, str) else text)
    if size > MAX_FILE_BYTES:
        raise RunFileError("file", f"{size} bytes", f"at most {MAX_FILE_BYTES} bytes")
    try:
        return json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as error:
        where = f"line {error.lineno}" if hasattr(error, "lineno") else "somewhere"
        raise RunFileError("file", f"not JSON ({where})",
                           "a JSON object written by Export run or --export") from None


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def load_run(data: object) -> tuple[Config, list[dict], str | None]:
    """Check a parsed run file; returns (config, normalized command log, scenario)."""
    if not isinstance(data, dict):
        raise RunFileError("file", data, "a JSON object with format, version, config and "
                                         "command_log")
    known = {"format", "version", "scenario", "config", "command_log", "events"}
    for key in data:
        if key not in known:
            raise RunFileError(str(key)[:40], data[key], "fields: " + ", ".join(sorted(known)))
    if data.get("format") != FORMAT:
        raise RunFileError("format", data.get("format"), repr(FORMAT))
    version = data.get("version")
    if isinstance(version, bool) or version != VERSION:
        raise RunFileError("version", version, f"{VERSION} (this engine reads version "
                                               f"{VERSION} run files only)")
    scenario = data.get("scenario")
    if scenario is not None and scenario not in PRESETS:
        raise RunFileError("scenario", scenario, "null or one of " + ", ".join(PRESETS))
    try:
        config = Config.from_dict(data.get("config"))
    except EngineError as error:
        field = "config" if error.field == "config" else f"config.{error.field}"
        raise RunFileError(field, error.value, error.allowed) from None
    log = data.get("command_log")
    if not isinstance(log, list):
        raise RunFileError("command_log", log, "a list of {t, step, cmd}")
    if len(log) > MAX_COMMANDS:
        raise RunFileError("command_log", f"{len(log)} commands", f"at most {MAX_COMMANDS}")
    commands = []
    last_t, last_step = 0.0, 0
    for i, entry in enumerate(log):
        where = f"command_log[{i}]"
        if not isinstance(entry, dict) or set(entry) != {"t", "step", "cmd"}:
            raise RunFileError(where, entry, "an object {t, step, cmd}")
        t, step = entry["t"], entry["step"]
        if (isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t)
                or t < last_t):
            raise RunFileError(where + ".t", t, f"a virtual time >= {last_t:g} (the "
                                                "previous command's)")
        if isinstance(step, bool) or not isinstance(step, int) or step < last_step:
            raise RunFileError(where + ".step", step, f"an integer >= {last_step} (the "
                                                      "previous command's)")
        try:
            cmd = normalize_command(entry["cmd"])
        except EngineError as error:
            field = where + ".cmd" + ("" if error.field in ("command", "cmd")
                                      else "." + error.field)
            raise RunFileError(field, error.value, error.allowed) from None
        commands.append({"t": float(t), "step": step, "cmd": cmd})
        last_t, last_step = float(t), step
    return config, commands, scenario
