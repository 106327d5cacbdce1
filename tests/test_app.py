"""app.py, the entry point: its flags, their environment variables, and that importing it
never imports eventlet."""

from __future__ import annotations

import subprocess
import sys

import pytest

import app as app_module
from tests.support import REPO_ROOT


def test_importing_app_does_not_import_eventlet():
    code = "import sys, app\nassert 'eventlet' not in sys.modules, 'eventlet imported'\n"
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True, timeout=60)


def test_cli_defaults_and_environment():
    args = app_module.parse_args([], environ={})
    assert (args.host, args.port, args.async_mode) == ("127.0.0.1", 5000, "eventlet")
    assert args.allow_origin == [] and args.grace == 30.0
    env = {"AMO_HOST": "0.0.0.0", "AMO_PORT": "8001", "AMO_ASYNC_MODE": "threading",
           "AMO_ALLOW_ORIGINS": "http://a.example,https://b.example:8443", "AMO_GRACE": "2"}
    args = app_module.parse_args([], environ=env)
    assert (args.host, args.port, args.async_mode, args.grace) == (
        "0.0.0.0", 8001, "threading", 2.0)
    assert args.allow_origin == ["http://a.example", "https://b.example:8443"]
    args = app_module.parse_args(["--port", "9000", "--allow-origin", "http://c.example"],
                                 environ=env)
    assert args.port == 9000 and "http://c.example" in args.allow_origin


def test_allow_host_and_session_rate_flags():
    args = app_module.parse_args([], environ={})
    assert args.allow_host == [] and args.session_rate == 300.0
    env = {"AMO_ALLOW_HOSTS": "classroom.example,[fe80::1]:8000", "AMO_SESSION_RATE": "5"}
    args = app_module.parse_args([], environ=env)
    assert args.allow_host == ["classroom.example", "[fe80::1]:8000"]
    assert args.session_rate == 5.0
    args = app_module.parse_args(["--allow-host", "*", "--allow-host", "b.example:80",
                                  "--session-rate", "600"], environ={})
    assert args.allow_host == ["*", "b.example:80"] and args.session_rate == 600.0


@pytest.mark.parametrize("argv, env", [
    (["--port", "0"], {}),
    (["--port", "http"], {}),
    (["--async-mode", "gevent"], {}),
    (["--allow-origin", "*"], {}),
    (["--grace", "-1"], {}),
    (["--bogus"], {}),
    (["--async", "threading"], {}),  # no abbreviations: the mode is read before parsing
    ([], {"AMO_PORT": "99999"}),
    ([], {"AMO_ASYNC_MODE": "asyncio"}),
    ([], {"AMO_ALLOW_ORIGINS": "evil"}),
    (["--allow-host", "http://a.example"], {}),
    (["--allow-host", "a.example:http"], {}),
    (["--allow-host", "::1"], {}),  # an IPv6 address needs its brackets
    ([], {"AMO_ALLOW_HOSTS": "a.example,bad host"}),
    (["--session-rate", "0"], {}),
    ([], {"AMO_SESSION_RATE": "many"}),
    (["--proxies", "-1"], {}),
    ([], {"AMO_PROXIES": "nginx"}),
])
def test_cli_bad_arguments_exit_2_with_one_line(argv, env, capsys):
    with pytest.raises(SystemExit) as exit_info:
        app_module.parse_args(argv, environ=env)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("python app.py: error:")


def test_cli_bad_arguments_exit_2_as_a_program():
    result = subprocess.run([sys.executable, "app.py", "--port", "nope"], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "--port" in result.stderr
    assert "Eventlet is deprecated" not in result.stderr


def test_requested_async_mode_is_read_before_flask_is_imported():
    mode = app_module._requested_async_mode
    assert mode([], {}) == "eventlet"
    assert mode(["--async-mode", "threading"], {}) == "threading"
    assert mode(["--async-mode=threading"], {}) == "threading"
    assert mode([], {"AMO_ASYNC_MODE": "threading"}) == "threading"


