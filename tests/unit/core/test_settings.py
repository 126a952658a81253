"""The settings base: names from the environment without regard to case, one error naming all."""

from __future__ import annotations

import pytest
from pydantic import Field, SecretStr

from core.settings import CommaList, ConfigError, EmailAddress, EnvSettings


class Example(EnvSettings):
    names: CommaList = Field(default_factory=list)
    contact: EmailAddress | None = None
    token: SecretStr | None = None
    retries: int = Field(default=2, ge=0, le=5)


def test_variables_are_read_by_upper_case_name_and_given_values_win() -> None:
    environ = {"GOOGLE_CLOUD_PROJECT": "demo-billing", "NAMES": " a, b,,c ", "RETRIES": "4"}
    settings = Example.load(environ, retries=1)
    assert settings.google_cloud_project == "demo-billing"
    assert settings.names == ["a", "b", "c"]
    assert settings.retries == 1


def test_the_environment_is_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "demo-other")
    assert Example.load().google_cloud_project == "demo-other"


def test_every_bad_variable_is_named_in_one_error_without_its_value() -> None:
    environ = {"CONTACT": "nobody", "RETRIES": "9", "TOKEN": "s3cret value"}
    with pytest.raises(ConfigError) as caught:
        Example.load(environ)
    message = str(caught.value)
    assert "GOOGLE_CLOUD_PROJECT: is required but not set" in message
    assert "CONTACT: 'nobody' is not an email address" in message
    assert "RETRIES: Input should be less than or equal to 5" in message
    assert "s3cret" not in message


def test_require_names_every_missing_setting() -> None:
    settings = Example.load({"GOOGLE_CLOUD_PROJECT": "demo-billing"})
    with pytest.raises(ConfigError, match="Missing required setting\\(s\\): NAMES, TOKEN"):
        settings.require("names", "token", "retries")
