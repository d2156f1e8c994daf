from pathlib import Path

import pytest

from control_plane.settings import Settings, SettingsError


def test_environment_is_read_and_overrides_win() -> None:
    s = Settings.from_env(
        {"GOSD_DATA_DIR": "/srv/gosd", "GOSD_ACCESS_TOKEN_TTL_S": "60", "OTHER": "x"},
        login_lockout_s=5,
    )
    assert s.data_dir == Path("/srv/gosd")
    assert s.access_token_ttl_s == 60
    assert s.login_lockout_s == 5
    assert s.effective_database_url == "sqlite:///srv/gosd/gosd.sqlite3"


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("GOSD_ACCESS_TOKEN_TTL_S", "soon", "whole number"),
        ("GOSD_UPLOAD_MAX_BYTES", "0", "positive"),
        ("GOSD_BASE_PATH", "gosd/", "start with '/'"),
        ("GOSD_DATABASE_URL", "mysql://x", "sqlite://"),
    ],
)
def test_bad_values_are_refused_naming_the_variable(name: str, value: str, says: str) -> None:
    with pytest.raises(SettingsError, match=name) as info:
        Settings.from_env({name: value})
    assert says in str(info.value)
