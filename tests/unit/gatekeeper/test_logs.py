import json
import logging

from gatekeeper.logs import JsonFormatter, logging_config


def _format(**extra):
    record = logging.makeLogRecord(
        {"name": "gatekeeper.test", "levelno": 20, "levelname": "INFO", "msg": "login", **extra}
    )
    return json.loads(JsonFormatter().format(record))


def test_one_json_object_with_extra_fields():
    line = _format(event="login", user="jane@example.com", reason="ok")
    assert line["message"] == "login" and line["level"] == "info" and line["logger"] == "gatekeeper.test"
    assert line["event"] == "login" and line["user"] == "jane@example.com"
    assert line["time"].endswith("Z")


def test_secret_fields_are_dropped():
    line = _format(token="eyJ.secret", cookie="authservice_session=x", secret="s", user="u")
    assert "token" not in line and "cookie" not in line and "secret" not in line
    assert "eyJ.secret" not in json.dumps(line)


def test_config_covers_granian_loggers():
    config = logging_config("warning")
    assert config["loggers"]["_granian"]["level"] == "WARNING"
    assert config["loggers"]["gatekeeper"]["handlers"] == ["stdout"]
