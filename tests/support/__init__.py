"""Test helpers shared across test packages (replay HTTP server, ...)."""

import pytest

# Helpers use plain ``assert``; let pytest rewrite them for readable failures (and so
# ``pytest_plugins = ("tests.support.replay_server",)`` does not warn after an import).
pytest.register_assert_rewrite("tests.support.replay_server")
