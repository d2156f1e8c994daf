"""``[[livestream]]`` tables of the agent's file: read, written back, and refused with
the key at fault."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared import agent_config
from shared.agent_config import ConfigError, LivestreamSection

HEAD = '[node]\nid = 1\nsecret = "s"\n'


def load(tmp_path: Path, text: str) -> agent_config.AgentConfig:
    path = tmp_path / "agent.toml"
    path.write_text(HEAD + text)
    return agent_config.load(path, environ={})


def test_streams_are_read_with_their_defaults_and_written_back(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        '[[livestream]]\npoint_id = 4\nsource = "http://127.0.0.1:8554/cameras/0.ts"\n'
        '[[livestream]]\npoint_id = 5\nsource = "testsrc"\nmode = "always"\n'
        'encoder = "libx264"\nbitrate_kbps = 600\nwidth = 640\nheight = 360\nfps = 15\n',
    )
    first, second = config.livestream
    assert first == LivestreamSection(point_id=4, source="http://127.0.0.1:8554/cameras/0.ts")
    assert (first.mode, first.encoder, first.bitrate_kbps) == ("on_demand", "auto", 1000)
    assert (second.mode, second.encoder, second.width, second.fps) == ("always", "libx264", 640, 15)
    path = tmp_path / "again.toml"
    agent_config.write(config, path)
    assert agent_config.load(path, environ={}).livestream == config.livestream


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ('point_id = 0\nsource = "testsrc"', "point_id"),
        ('point_id = 1\nsource = ""', "source"),
        ('point_id = 1\nsource = "testsrc"\nmode = "sometimes"', "mode"),
        ('point_id = 1\nsource = "testsrc"\nencoder = "x; rm -rf /"', "encoder"),
        ('point_id = 1\nsource = "testsrc"\nbitrate_kbps = 10', "bitrate_kbps"),
        ('point_id = 1\nsource = "testsrc"\nwidth = 641', "width"),
        ('point_id = 1\nsource = "testsrc"\nfps = 0', "fps"),
        ('point_id = 1\nsource = "testsrc"\ncolour = "red"', "colour"),
    ],
)
def test_bad_values_name_their_key(tmp_path: Path, table: str, key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        load(tmp_path, f"[[livestream]]\n{table}\n")


def test_a_point_configured_twice_is_refused(tmp_path: Path) -> None:
    table = '[[livestream]]\npoint_id = 3\nsource = "testsrc"\n'
    with pytest.raises(ConfigError, match="point_id 3 is configured twice"):
        load(tmp_path, table * 2)
