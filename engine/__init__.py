"""The delivery engine (at-most-once, at-least-once, exactly-once): pure, deterministic,
replayable.

No Flask, no sockets, no threads, no sleeping, no wall clock, no I/O. The same config and
command log give the same events, always.
"""

from .commands import COMMANDS, normalize_command
from .config import Config, FailureSetting
from .errors import CommandError, ConfigError, EngineError
from .history import History
from .names import CALL_MODES, FAILURE_POINTS, OUTBOXES, SEED_FAILURE_POINTS, SEMANTICS
from .presets import PRESETS, describe_presets, preset_config, preset_names, preset_script
from .simulation import Simulation
from .sweep import loss_sweep
from .truth import truth_table

__version__ = "0.1.0"

__all__ = [
    "CALL_MODES", "COMMANDS", "Config", "CommandError", "ConfigError", "EngineError",
    "FAILURE_POINTS", "OUTBOXES", "SEED_FAILURE_POINTS", "SEMANTICS",
    "FailureSetting", "History", "PRESETS", "Simulation", "describe_presets", "loss_sweep",
    "normalize_command",
    "preset_config", "preset_names", "preset_script", "truth_table", "__version__",
]
